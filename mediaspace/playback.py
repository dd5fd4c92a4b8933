"""What the pages play and show of an entry that the media pipeline (mediaspace/processing/) has processed: which
file plays, the pictures' addresses, the seek-preview WebVTT made from the sprite grid, the duration as people
read it, the transcript's cues, and how stored files are served (signed URL on S3, else streamed with Range).

An address carries a version made from the stored name (each processing run stores into a fresh folder), so a
browser keeps a picture as long as it likes and fetches a reprocessed one anew.
"""
import hashlib
import mimetypes
from pathlib import PurePath

from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.cache import get_conditional_response
from django.utils.html import escape
from django.utils.http import http_date, quote_etag
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _, ngettext

from .conf import setting
from .http_range import protect, serve_file
from .models import CaptionCue
from .object_storage import is_object_storage, signed_url

PICTURES = ("poster", "thumbnail", "sprite")
PICTURE_MAX_AGE = 86400  # the address changes when the picture does; a day bounds a revoked viewer's copy
GRID_KEYS = ("interval", "columns", "rows", "count", "width", "height")


def version(fieldfile) -> str:
    return hashlib.sha256(fieldfile.name.encode()).hexdigest()[:12]


def picture_url(entry, name) -> str:
    """The address of the entry's poster, thumbnail or sprite, or '' when it has none."""
    fieldfile = getattr(entry, name)
    if not fieldfile:
        return ""
    return f"{reverse('mediaspace:entry_picture', args=[entry.pk, name])}?v={version(fieldfile)}"


def player_kind(entry) -> str:
    """video, audio or image as the entry page plays it: what FFmpeg found wins over the file's type (a WMA file
    is typed as Windows Media video, but holds only sound)."""
    probe = entry.probe if isinstance(entry.probe, dict) else {}
    if entry.kind in ("video", "audio") and "has_video" in probe:
        return "video" if probe["has_video"] else "audio" if probe.get("has_audio") else entry.kind
    return entry.kind


def playback_url(entry) -> str:
    """What the player plays: the web rendition when there is one, else the original."""
    if entry.playback:
        return f"{reverse('mediaspace:entry_playback', args=[entry.pk])}?v={version(entry.playback)}"
    return reverse("mediaspace:entry_media", args=[entry.pk])


def sprite_grid(entry):
    """The sprite grid when it is whole (positive numbers, the interval may be fractional), else None."""
    grid = entry.sprite_grid if isinstance(entry.sprite_grid, dict) else {}
    values = [grid.get(key) for key in GRID_KEYS]
    if not entry.sprite or not all(isinstance(value, (int, float)) and value > 0 for value in values):
        return None
    interval, columns, rows, count, width, height = values
    if any(not isinstance(value, int) for value in (columns, rows, count, width, height)) or count > columns * rows:
        return None
    return dict(zip(GRID_KEYS, values))


def seek_track_url(entry) -> str:
    """The seek-preview WebVTT's address, or '' when the entry has no whole sprite."""
    if sprite_grid(entry) is None:
        return ""
    return f"{reverse('mediaspace:entry_seek_track', args=[entry.pk])}?v={version(entry.sprite)}"


def vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    return f"{hours:02}:{minutes:02}:{millis // 1000:02}.{millis % 1000:03}"


def seek_track(entry) -> str:
    """The WebVTT thumbnail track: one cue per tile, `start --> end` and `sprite#xywh=x,y,w,h`, the last cue
    ending at the entry's duration when it is known."""
    grid = sprite_grid(entry)
    sprite = picture_url(entry, "sprite")
    lines = ["WEBVTT", ""]
    for index in range(grid["count"]):
        start = index * grid["interval"]
        end = start + grid["interval"]
        if entry.duration and index == grid["count"] - 1:
            end = max(min(end, entry.duration), start + 0.001)
        x, y = index % grid["columns"] * grid["width"], index // grid["columns"] * grid["height"]
        lines += [f"{vtt_time(start)} --> {vtt_time(end)}",
                  f"{sprite}#xywh={x},{y},{grid['width']},{grid['height']}", ""]
    return "\n".join(lines)


def _hms(seconds):
    total = int(seconds + 0.5)
    return total // 3600, total % 3600 // 60, total % 60


def duration_label(seconds) -> str:
    """'1:02:03' or '2:05' (rounded to the second), '' when unknown."""
    if seconds is None or seconds < 0:
        return ""
    hours, minutes, secs = _hms(seconds)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def duration_spoken(seconds) -> str:
    """'1 hour 2 minutes 3 seconds': what a screen reader says instead of the digits."""
    if seconds is None or seconds < 0:
        return ""
    hours, minutes, secs = _hms(seconds)
    parts = [ngettext("%d hour", "%d hours", hours) % hours if hours else "",
             ngettext("%d minute", "%d minutes", minutes) % minutes if minutes else "",
             ngettext("%d second", "%d seconds", secs) % secs if secs or not (hours or minutes) else ""]
    return _("Duration: %(time)s") % {"time": " ".join(part for part in parts if part)}


def transcript(tracks):
    """The interactive transcript's items: one button per cue of the first caption track (the one the player
    shows by default), read in one query; '' without captions. Written here rather than in a template loop:
    a two-hour transcript has thousands of cues, and this is twenty times faster."""
    if not tracks:
        return ""
    cues = CaptionCue.objects.filter(track=tracks[0]).order_by("start", "pk").values_list("start", "end", "text")
    return mark_safe("".join(
        f'<li><button type="button" data-start="{start!r}" data-end="{end!r}"><span class="cue-time">'
        f'{duration_label(int(start))}</span> {escape(text)}</button></li>'
        for start, end, text in cues.iterator(chunk_size=2000)))


def serve_stored(request, fieldfile, *, content_type, filename=None):
    """A stored file whose permission the caller checked: on S3, a redirect to a short-lived signed URL (the
    store sends the bytes); elsewhere streamed with Range (http_range.serve_file)."""
    filename = filename or PurePath(fieldfile.name).name
    seconds = setting("MEDIASPACE_SIGNED_URL_SECONDS")
    if seconds and is_object_storage(fieldfile.storage):
        response = HttpResponseRedirect(signed_url(fieldfile.storage, fieldfile.name, seconds=seconds,
                                                   content_type=content_type, filename=filename))
        response["Cache-Control"] = "private, no-store"  # a signed URL outlives no permission change for long
        return response
    return serve_file(request, fieldfile, content_type=content_type, filename=filename)


def _cached_privately(request, response, etag, changed):
    """Validators and private caching on a 200, 206 or 304 (an error or a redirect to S3 is left as it is)."""
    if response.status_code in (200, 206, 304):
        response["ETag"] = etag
        if changed:
            response["Last-Modified"] = http_date(changed.timestamp())
        response["Cache-Control"] = f"private, max-age={PICTURE_MAX_AGE}"
    return response


def serve_derived(request, entry, fieldfile):
    """A picture or rendition of the entry: 304 when the browser's copy is current (ETag, Last-Modified), else
    the file, kept privately by the browser (its address changes with it)."""
    content_type = mimetypes.guess_type(fieldfile.name)[0] or "application/octet-stream"
    etag, changed = quote_etag(version(fieldfile)), entry.processed
    response = get_conditional_response(request, etag=etag,
                                        last_modified=changed and int(changed.timestamp()))
    if response is None:
        response = serve_stored(request, fieldfile, content_type=content_type)
    return _cached_privately(request, response, etag, changed)


def serve_seek_track(request, entry):
    """The seek-preview WebVTT, with validators made from what it is written from (sprite, grid, duration)."""
    text = seek_track(entry)
    etag, changed = quote_etag(hashlib.sha256(text.encode()).hexdigest()[:16]), entry.processed
    response = get_conditional_response(request, etag=etag,
                                        last_modified=changed and int(changed.timestamp()))
    if response is None:
        response = protect(HttpResponse(text, content_type="text/vtt; charset=utf-8"))
    return _cached_privately(request, response, etag, changed)
