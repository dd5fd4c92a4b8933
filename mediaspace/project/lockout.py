"""The page of a sign-in refused after too many wrong passwords (django-axes' AXES_LOCKOUT_CALLABLE in the
stand-alone settings; a host project that uses django-axes can point its setting here too)."""
from datetime import timedelta

from django.conf import settings
from django.shortcuts import render
from django.utils import timezone


def locked_out(request, original_response=None, credentials=None):
    """429 with what happened and when to try again. The lock lasts AXES_COOLOFF_TIME after the last attempt,
    and every attempt during the lock (this one included) starts it again, so it ends that long from now."""
    cool_off = getattr(settings, "AXES_COOLOFF_TIME", None) or timedelta(minutes=15)
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    return render(request, "mediaspace/locked_out.html", {
        "username": username,
        "minutes": max(1, round(cool_off.total_seconds() / 60)),
        "retry_at": timezone.localtime(timezone.now() + cool_off),
    }, status=429)
