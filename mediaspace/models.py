import posixpath
import re
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import Q
from django.urls import reverse
from django.utils.text import get_valid_filename
from django.utils.translation import gettext_lazy as _

from .media_types import kind_of
from .modules import Module, registry
from .roles import ROLE_RELATION, SIGNED_IN_ROLES, default_role


class UserRole(models.Model):
    """The one role of a signed-in user (users without a row have the default role)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name=ROLE_RELATION
    )
    role = models.CharField(
        _("role"),
        max_length=32,
        choices=SIGNED_IN_ROLES,
        default=default_role,
        help_text=_("What this user may do in the portal. Each role includes the ones below it."),
    )

    class Meta:
        verbose_name = _("portal role")
        verbose_name_plural = _("portal roles")

    def __str__(self):
        return f"{self.user}: {self.role}"


class MediaEntryQuerySet(models.QuerySet):
    def owned_by(self, user):
        return self.filter(owner=user)

    def shared_with(self, user):
        return self.filter(collaborators__user=user).exclude(owner=user).distinct()

    def published(self):
        return self.filter(status=MediaEntry.Status.READY, publications__status=Publication.Status.APPROVED)

    def search(self, text):
        """Entries whose name, description or tags contain the text, or whose captions say it. On PostgreSQL an index
        serves each of the four (trigram indexes of migration 0008, the captions' full-text index), so the planner
        reads only the matching entries; for that the captions' entries are compared as `id = ANY(ARRAY(...))`, which
        the primary key's index serves, where `id IN (...)` beside an OR would be checked on every row."""
        text = text.strip()
        if not text:
            return self
        spoken = CaptionCue.objects.matching(text).values("entry_id")
        if connection.vendor == "postgresql":
            from django.contrib.postgres.expressions import ArraySubquery

            said = models.Func(models.F("pk"), ArraySubquery(spoken.order_by()), arg_joiner=" = ANY(",
                               template="(%(expressions)s))", output_field=models.BooleanField())
        else:
            said = Q(pk__in=spoken)
        return self.filter(Q(name__icontains=text) | Q(description__icontains=text) | Q(tags__icontains=text) | said)


def entry_folder(entry):
    return posixpath.join("entries", str(entry.pk))


def entry_media_path(entry, filename):
    """A fresh folder per import attempt, so an abandoned attempt's file is easy to find and remove."""
    return posixpath.join(entry_folder(entry), uuid.uuid4().hex[:12], get_valid_filename(filename) or "media")


def entry_derived_path(entry, filename):
    """Pictures and renditions made from the original: beside it, in a fresh folder per processing run."""
    return posixpath.join(entry_folder(entry), "derived", uuid.uuid4().hex[:12], get_valid_filename(filename))


def caption_path(track, filename):
    return posixpath.join("captions", str(track.entry_id), f"{uuid.uuid4().hex}.vtt")


# The view that retries a failed import, per source ({source: URL name taking the entry's pk}).
# Apps that import media register theirs when they are ready.
RETRY_URL_NAMES = {}


class MediaEntry(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        IMPORTING = "importing", _("Importing")
        PROCESSING = "processing", _("Processing")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    class Source(models.TextChoices):
        UPLOAD = "upload", _("Upload")
        TEAMS = "teams", _("Microsoft Teams")
        ONEDRIVE = "onedrive", _("OneDrive")

    name = models.CharField(_("name"), max_length=255)
    description = models.TextField(_("description"), blank=True)
    tags = models.CharField(_("tags"), max_length=500, blank=True, help_text=_("Separate tags with commas."))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="media_entries", verbose_name=_("owner")
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(_("error"), blank=True, help_text=_("Why the last import failed."))
    media = models.FileField(_("media file"), upload_to=entry_media_path, max_length=500, blank=True)
    size = models.BigIntegerField(_("size (bytes)"), null=True, blank=True)
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    duration = models.FloatField(_("duration (seconds)"), null=True, blank=True)
    bytes_expected = models.BigIntegerField(_("bytes expected"), null=True, blank=True)
    bytes_received = models.BigIntegerField(_("bytes received"), default=0)
    heartbeat_at = models.DateTimeField(
        _("last progress"), null=True, blank=True, help_text=_("When the importing worker last reported progress.")
    )
    # The media pipeline (mediaspace/processing/): what FFmpeg found, the pictures and the web rendition.
    processing_progress = models.PositiveSmallIntegerField(
        _("processing progress (%)"), null=True, blank=True, help_text=_("How far the processing run has come.")
    )
    probe = models.JSONField(
        _("probe"), default=dict, blank=True,
        help_text=_("What FFmpeg found in the file: container, codecs, duration, size, rotation, audio and video."),
    )
    width = models.PositiveIntegerField(_("width (pixels)"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height (pixels)"), null=True, blank=True)
    poster = models.FileField(_("poster"), upload_to=entry_derived_path, max_length=500, blank=True)
    thumbnail = models.FileField(_("thumbnail"), upload_to=entry_derived_path, max_length=500, blank=True)
    sprite = models.FileField(
        _("seek preview sprite"), upload_to=entry_derived_path, max_length=500, blank=True,
        help_text=_("A sheet of small pictures shown while seeking; its track is made from the grid below."),
    )
    sprite_grid = models.JSONField(
        _("sprite grid"), default=dict, blank=True,
        help_text=_("interval (seconds), columns, rows, count and each tile's width and height."),
    )
    playback = models.FileField(
        _("web rendition"), upload_to=entry_derived_path, max_length=500, blank=True,
        help_text=_("H.264/AAC MP4 made for browsers; empty when the original plays as it is."),
    )
    processed = models.DateTimeField(_("processed"), null=True, blank=True,
                                     help_text=_("When processing last finished; empty if it never ran."))
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.UPLOAD)
    reference_id = models.CharField(
        _("reference id"),
        max_length=255,
        default=uuid.uuid4,
        help_text=_("The item's id at its source; an entry exists once per source and reference id."),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    objects = MediaEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("media entry")
        verbose_name_plural = _("media entries")
        ordering = ["-created", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["source", "reference_id"], name="mediaentry_unique_source_reference")
        ]
        # My Media reads a page of one owner's entries in this order straight from the index, and counts them
        # from it, whatever their number.
        indexes = [models.Index(fields=["owner", "-created", "-id"], name="mediaentry_owner_newest"),
                   models.Index(fields=["status"])]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("mediaspace:entry", args=[self.pk])

    @property
    def kind(self) -> str:
        """video, audio, image (raster), or '' when the content type is not a media type."""
        return kind_of(self.content_type)

    @property
    def progress_percent(self):
        """0-100, or None when there is nothing to measure yet (pending, or the size is not known)."""
        if self.status == self.Status.READY:
            return 100
        if self.status == self.Status.PROCESSING:
            return self.processing_progress
        if self.status == self.Status.PENDING or not self.bytes_expected:
            return None
        return min(99, self.bytes_received * 100 // self.bytes_expected)

    @property
    def is_in_progress(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.IMPORTING)

    @property
    def is_received(self) -> bool:
        """Its bytes are stored: the source's part is done (the media pipeline may still be processing it)."""
        return self.status in (self.Status.PROCESSING, self.Status.READY)

    @property
    def is_working(self) -> bool:
        """Something is still being done to it: importing, waiting for a worker, or processing."""
        return self.status in (self.Status.PENDING, self.Status.IMPORTING, self.Status.PROCESSING)

    @property
    def status_label(self) -> str:
        """The status as the pages show it: a pending entry is queued, and waits for a worker to take it."""
        return _("Waiting for a worker") if self.status == self.Status.PENDING else self.get_status_display()

    @property
    def retry_url(self) -> str:
        """Where the owner retries a failure ('' when there is no retry): a failed processing kept its original,
        which is processed again whatever the source; a failed import (no file kept) retries at its source."""
        if self.status != self.Status.FAILED:
            return ""
        if self.media:
            return reverse("mediaspace:entry_retry_processing", args=[self.pk])
        name = RETRY_URL_NAMES.get(self.source)
        return reverse(name, args=[self.pk]) if name else ""

    def tag_list(self):
        return [tag.strip() for tag in self.tags.split(",") if tag.strip()]

    def reloaded(self):
        """The entry as stored now (as it was, if it has been deleted meanwhile)."""
        try:
            self.refresh_from_db()
        except MediaEntry.DoesNotExist:
            pass
        return self


class CaptionTrack(models.Model):
    """A WebVTT caption track of an entry, for example a Teams transcript."""

    entry = models.ForeignKey(MediaEntry, on_delete=models.CASCADE, related_name="captions", verbose_name=_("entry"))
    label = models.CharField(_("label"), max_length=100)
    language = models.CharField(_("language"), max_length=16, help_text=_("A language tag such as en or fr-CA."))
    file = models.FileField(_("WebVTT file"), upload_to=caption_path, max_length=500)
    reference_id = models.CharField(
        _("reference id"), max_length=255, blank=True, help_text=_("The track's id at its source, if any.")
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("caption track")
        verbose_name_plural = _("caption tracks")
        ordering = ["label", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["entry", "reference_id"], condition=~Q(reference_id=""), name="caption_unique_reference"
            )
        ]

    def __str__(self):
        return f"{self.label} ({self.language})"


_WORDS = re.compile(r"[\w\s]*")


class CaptionCueQuerySet(models.QuerySet):
    def matching(self, text):
        """Cues that say the words of `text`: PostgreSQL's full-text search (the index of migration 0002 is
        on this very expression, so keep them the same), elsewhere a case-insensitive match of the phrase."""
        if connection.vendor == "postgresql":
            from django.contrib.postgres.search import SearchQuery, SearchVector

            said = Q(spoken=SearchQuery(text, config="simple"))
            if not _WORDS.fullmatch(text):  # full-text search drops "<", "&", "C++": find such text as written too
                said |= Q(text__icontains=text)
            return self.alias(spoken=SearchVector("text", config="simple")).filter(said)
        return self.filter(text__icontains=text)

    def first_per_entry(self):
        """One of these cues per entry, in one query: the earliest on PostgreSQL; elsewhere the first stored
        (the earliest of its track, as cues are stored in order)."""
        if connection.vendor == "postgresql":
            return self.order_by("entry_id", "start").distinct("entry_id")
        firsts = self.order_by().values("entry_id").annotate(first=models.Min("id")).values("first")
        return CaptionCue.objects.filter(pk__in=firsts)


class CaptionCue(models.Model):
    """One cue of a caption track as plain text, so search can find what was said and when."""

    track = models.ForeignKey(CaptionTrack, on_delete=models.CASCADE, related_name="cues")
    entry = models.ForeignKey(MediaEntry, on_delete=models.CASCADE, related_name="+")
    start = models.FloatField(_("start (seconds)"))
    end = models.FloatField(_("end (seconds)"))
    text = models.TextField(_("text"))

    objects = CaptionCueQuerySet.as_manager()

    class Meta:
        ordering = ["start", "pk"]
        indexes = [models.Index(fields=["entry", "start"])]

    def __str__(self):
        return self.text[:80]

    @property
    def second(self) -> int:
        """Where a player should start to hear the whole cue."""
        return int(self.start)

    @property
    def timestamp(self) -> str:
        """"12:34" or "1:02:03"."""
        hours, rest = divmod(self.second, 3600)
        return f"{hours}:{rest // 60:02}:{rest % 60:02}" if hours else f"{rest // 60}:{rest % 60:02}"



class Collaborator(models.Model):
    """A user's extra rights on someone else's entry; one row may hold several of them."""

    entry = models.ForeignKey(
        MediaEntry, on_delete=models.CASCADE, related_name="collaborators", verbose_name=_("entry")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="collaborations", verbose_name=_("user")
    )
    is_co_viewer = models.BooleanField(_("co-viewer"), default=False, help_text=_("May watch the entry."))
    is_co_editor = models.BooleanField(_("co-editor"), default=False, help_text=_("May edit the entry's details."))
    is_co_publisher = models.BooleanField(
        _("co-publisher"), default=False, help_text=_("May publish the entry to categories.")
    )

    class Meta:
        verbose_name = _("collaborator")
        verbose_name_plural = _("collaborators")
        constraints = [models.UniqueConstraint(fields=["entry", "user"], name="collaborator_unique_user")]

    def __str__(self):
        return f"{self.user} on {self.entry}: {', '.join(self.permission_labels())}"

    def permission_labels(self):
        return [
            str(field.verbose_name)
            for field in (self._meta.get_field(name) for name in ("is_co_viewer", "is_co_editor", "is_co_publisher"))
            if getattr(self, field.name)
        ]


class CategoryQuerySet(models.QuerySet):
    def tree(self):
        """The categories with `.path` ('Parent › Child') and `.depth`, in tree order, in one query."""
        by_parent = {}
        for category in self:
            by_parent.setdefault(category.parent_id, []).append(category)
        ordered = []

        def walk(parent_id, prefix, depth):
            for category in sorted(by_parent.get(parent_id, []), key=lambda c: c.name.lower()):
                category.path, category.depth = prefix + category.name, depth
                ordered.append(category)
                walk(category.pk, category.path + " › ", depth + 1)

        walk(None, "", 0)
        return ordered


class Category(models.Model):
    name = models.CharField(_("name"), max_length=200)
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children", verbose_name=_("parent")
    )
    description = models.TextField(_("description"), blank=True)
    moderated = models.BooleanField(
        _("moderated"),
        default=False,
        help_text=_("Entries published here by adminRole users wait for an administrator's approval."),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)

    objects = CategoryQuerySet.as_manager()

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="category_unique_name_in_parent"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(parent__isnull=True), name="category_unique_top_level_name"
            ),
        ]

    def __str__(self):
        return " › ".join(category.name for category in self.ancestors_and_self())

    def get_absolute_url(self):
        return reverse("mediaspace:category", args=[self.pk])

    def ancestors_and_self(self):
        chain, node, seen = [], self, set()
        while node is not None and node.pk not in seen:
            seen.add(node.pk)
            chain.append(node)
            node = node.parent
        return list(reversed(chain))

    def clean(self):
        node = self.parent
        while node is not None:
            if self.pk and node.pk == self.pk:
                raise ValidationError({"parent": _("A category cannot be placed inside itself.")})
            node = node.parent


class Publication(models.Model):
    """An entry published to a category; in a moderated category it first waits for approval."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending approval")
        APPROVED = "approved", _("Published")
        REJECTED = "rejected", _("Rejected")

    category = models.ForeignKey(
        Category, on_delete=models.CASCADE, related_name="publications", verbose_name=_("category")
    )
    entry = models.ForeignKey(
        MediaEntry, on_delete=models.CASCADE, related_name="publications", verbose_name=_("entry")
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("published by")
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    decided = models.DateTimeField(_("decided"), null=True, blank=True)

    class Meta:
        verbose_name = _("publication")
        verbose_name_plural = _("publications")
        ordering = ["-created"]
        constraints = [models.UniqueConstraint(fields=["category", "entry"], name="publication_unique_entry")]
        # A category page reads its entries newest first (by entry id) and counts them from this index.
        indexes = [models.Index(fields=["category", "status", "entry"], name="publication_category_entries")]

    def __str__(self):
        return f"{self.entry} in {self.category}"


@registry.register
class UploadModule(Module):
    enabled = models.BooleanField(
        _("enabled"), default=True, help_text=_("Set to 'Yes' to let users upload media from their computer.")
    )
    max_size_mb = models.PositiveIntegerField(
        _("maxFileSize (MiB)"), default=2048, help_text=_("The largest file a user may upload, in MiB.")
    )
    allow_video = models.BooleanField(_("video"), default=True, help_text=_("Allow video files."))
    allow_audio = models.BooleanField(_("audio"), default=True, help_text=_("Allow audio files."))
    allow_image = models.BooleanField(_("image"), default=True, help_text=_("Allow image files."))
    make_renditions = models.BooleanField(
        _("web renditions"), default=True,
        help_text=_("Set to 'Yes' to convert files that browsers cannot play into H.264/AAC MP4. "
                    "Files that browsers play are never converted."),
    )
    rendition_max_height = models.PositiveSmallIntegerField(
        _("largest rendition"), default=1080, choices=[(360, "360p"), (480, "480p"), (720, "720p"), (1080, "1080p")],
        help_text=_("Web renditions are made at most this tall; smaller files keep their size."),
    )

    menu_label = _("Upload media")
    menu_url_name = "mediaspace:upload"

    class Meta:
        verbose_name = _("Upload module")
        verbose_name_plural = _("Upload module")

    @property
    def max_size_bytes(self) -> int:
        return self.max_size_mb * 1024 * 1024

    def allowed_kinds(self):
        return [kind for kind in ("video", "audio", "image") if getattr(self, f"allow_{kind}")]


class FollowedSchedule(models.Model):
    """A django-q2 schedule whose minutes follow a setting (mediaspace/schedules.py), and the minutes that setting
    last wrote: a schedule whose minutes differ was changed by an administrator, and is left alone."""

    schedule = models.OneToOneField("django_q.Schedule", on_delete=models.CASCADE, primary_key=True, related_name="+")
    minutes = models.PositiveSmallIntegerField()
