from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import UserRole


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="mediaspace_user_role")
def give_new_users_the_default_role(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        UserRole.objects.get_or_create(user=instance)
