from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mediaspace.conf import setting

from integrations.microsoft.fields import EncryptedCharField
from integrations.microsoft.validators import validate_guid

SECRET_EXPIRY_WARNING_DAYS = 30
DEFAULT_EXPIRY_DAYS = 120  # Microsoft's default MeetingRecordingExpirationDays
MAX_EXPIRY_DAYS = 99999  # Microsoft's largest MeetingRecordingExpirationDays: dates stay in range (about 273 years)
EXPIRY_RANGE_MESSAGE = _("Microsoft keeps recordings 1 to 99999 days (MeetingRecordingExpirationDays): enter a "
                         "number of days in that range. For recordings that never expire, enter 99999.")
DUPLICATE_APP_MESSAGE = _("An integration for this application (client) ID in this directory (tenant) exists "
                          "already: its recordings would be uploaded twice.")
AT_RISK_DAYS = 7  # a recording not in the portal this close to its expiry is shown "at risk"


def expiry_period(days):
    """How long Microsoft keeps a recording, for `days` as stored. The field refuses more than MAX_EXPIRY_DAYS;
    a larger value set in the database by other means counts as MAX_EXPIRY_DAYS (centuries, like it), so that
    every date computed from it stays in range."""
    return timedelta(days=min(days, MAX_EXPIRY_DAYS))


class TeamsIntegrationQuerySet(models.QuerySet):
    def enabled(self):
        return self.filter(enabled=True)

    def with_at_risk_counts(self, now=None):
        """`at_risk`: how many of each integration's recordings are at risk of expiry (see Recording.at_risk)."""
        window = expiring_soon(now, integration="pk", recorded_at="recordings__recorded_at")
        return self.annotate(at_risk=models.Count(
            "recordings", filter=window & ~models.Q(recordings__state__in=NOT_AT_RISK)))


class TeamsIntegration(models.Model):
    """One Microsoft Entra app registration whose tenant's Teams meeting recordings come to the portal."""

    class UploadPolicy(models.TextChoices):
        ALL = "all", _("Upload all recordings - All recordings in the account will be uploaded.")
        OPT_IN = "opt_in", _("Opt-in groups - Recordings will be uploaded if the owner of the recordings is in "
                             "one of the opt-in groups.")
        OPT_OUT = "opt_out", _("Opt-out groups - Recordings will be uploaded if the owner of the recordings is "
                               "not in one of the opt-out groups.")

    class Permission(models.TextChoices):
        NONE = "none", _("None")
        CO_VIEWERS = "co_viewers", _("Co-viewers")
        CO_EDITORS = "co_editors", _("Co-editors")
        CO_PUBLISHERS = "co_publishers", _("Co-publishers")
        CO_EDITORS_AND_PUBLISHERS = "co_editors_publishers", _("Co-editors & Co-publishers")

    USER_PERMISSIONS = [
        (Permission.NONE.value, Permission.NONE.label),
        (Permission.CO_VIEWERS.value, Permission.CO_VIEWERS.label),
        (Permission.CO_PUBLISHERS.value, Permission.CO_PUBLISHERS.label),
    ]

    class UserIdSource(models.TextChoices):
        UPN = "upn", _("Microsoft User Principal Name")
        AZURE_ID = "azure_id", _("Azure user ID")

    class UpnRule(models.TextChoices):
        KEEP = "keep", _("Do not modify")
        REMOVE_POSTFIX = "remove_postfix", _("Remove postfix")
        ADD_POSTFIX = "add_postfix", _("Add postfix")

    class FindUserBy(models.TextChoices):
        USER_ID = "user_id", _("User ID")
        EMAIL = "email", _("User e-mail")
        BOTH = "both", _("Both")

    class MissingUser(models.TextChoices):
        CREATE = "create", _("Create new user based on Teams user")
        DEFAULT = "default", _("Use default user")

    name = models.CharField(_("Name"), max_length=200, help_text=_("A name for this integration."))
    tenant_id = models.CharField(
        _("Directory (tenant) ID"), max_length=36, validators=[validate_guid],
        help_text=_("From the Overview tab of the Azure application you registered for this integration."),
    )
    client_id = models.CharField(
        _("Application (client) ID"), max_length=36, validators=[validate_guid],
        help_text=_("From the Overview tab of the Azure application you registered for this integration."),
    )
    client_secret = EncryptedCharField(
        _("Application (client) Secret"), max_length=255,
        help_text=_("The value of the client secret you created under Certificates & secrets (not its Secret ID)."),
    )
    secret_expires_on = models.DateField(
        _("Secret expires on"), null=True, blank=True,
        help_text=_("Optional: the secret's expiry date from Certificates & secrets. The integration list warns "
                    "30 days before it."),
    )
    enabled = models.BooleanField(
        _("Status"), default=False, choices=[(True, _("Enabled")), (False, _("Disabled"))],
        help_text=_("An integration is created disabled. Enable it to start uploading recordings."),
    )
    categories = models.ManyToManyField(
        "mediaspace.Category", blank=True, related_name="teams_integrations", verbose_name=_("Publish to categories"),
        help_text=_("Every uploaded recording is published to these categories."),
    )
    upload_policy = models.CharField(
        _("Upload recordings management"), max_length=16, choices=UploadPolicy.choices, default=UploadPolicy.ALL,
    )
    transcription = models.BooleanField(
        _("Teams transcription"), default=False,
        help_text=_("Set to 'Yes' to include the transcription when uploading the recording."),
    )
    co_organizer_permission = models.CharField(
        _("Co-organizers"), max_length=32, choices=Permission.choices, default=Permission.NONE,
        help_text=_("Please note that the option Co-organizers is not currently supported by Microsoft."),
    )
    presenter_permission = models.CharField(
        _("Presenters"), max_length=32, choices=Permission.choices, default=Permission.NONE,
    )
    attendee_permission = models.CharField(_("Users"), max_length=32, choices=USER_PERMISSIONS,
                                           default=Permission.NONE)
    user_id_source = models.CharField(
        _("Set user based on"), max_length=16, choices=UserIdSource.choices, default=UserIdSource.UPN,
    )
    upn_rule = models.CharField(
        _("Microsoft User Principal Name"), max_length=16, choices=UpnRule.choices, default=UpnRule.KEEP,
        help_text=_("For example, if your UPN is john.doe@example.com and the portal user ID is john.doe, the "
                    "postfix to remove is @example.com; if your UPN is john.doe and the portal user ID is "
                    "john.doe@example.com, the postfix to add is @example.com."),
    )
    postfix = models.CharField(_("Postfix"), max_length=200, blank=True, help_text=_("For example @company.com"))
    find_user_by = models.CharField(
        _("Find user by"), max_length=16, choices=FindUserBy.choices, default=FindUserBy.USER_ID,
    )
    missing_user = models.CharField(
        _("In case the user doesn't exist"), max_length=16, choices=MissingUser.choices, default=MissingUser.CREATE,
    )
    default_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("Default user"), help_text=_("Owner of the recordings whose Teams user has no portal user."),
    )
    guest_permissions = models.BooleanField(
        _("Give guests permissions"), default=False,
        help_text=_("Participants from outside this directory (guests, external and anonymous attendees) get no "
                    "collaborator permission unless this is set to 'Yes'."))
    recording_expiry_days = models.PositiveIntegerField(
        _("Recordings in Microsoft expire after (days)"), default=DEFAULT_EXPIRY_DAYS,
        validators=[MinValueValidator(1, EXPIRY_RANGE_MESSAGE),
                    MaxValueValidator(MAX_EXPIRY_DAYS, EXPIRY_RANGE_MESSAGE)],
        help_text=_("The tenant's MeetingRecordingExpirationDays: Teams admin center > Meetings > Meeting policies > "
                    "Recording & transcription > 'Meetings automatically expire' (or PowerShell: "
                    "Get-CsTeamsMeetingPolicy | Select-Object Identity, MeetingRecordingExpirationDays). Microsoft's "
                    "default is 120 days; 1 to 99999 days (Microsoft's maximum; for recordings that never expire, "
                    "enter 99999). Recordings closest to expiry are brought in first."))
    ask_owners = models.BooleanField(
        _("Ask owners to keep or discard new recordings"), default=False,
        help_text=_("When a recording is ready, its owner gets an e-mail and a notice in My Media with Keep and "
                    "Discard. Nothing is discarded without the owner's (or an administrator's) action."))
    backfill_days = models.PositiveIntegerField(
        _("Recordings brought in when first enabled"), null=True, blank=True, editable=False,
        help_text=_("0: new recordings only; N: also the recordings of the N days before."))
    created = models.DateTimeField(_("Creation date"), auto_now_add=True)
    updated = models.DateTimeField(_("Updated at"), auto_now=True)
    last_error = models.TextField(_("Last error"), blank=True)
    last_error_code = models.CharField(
        _("Kind of the last error"), max_length=32, blank=True, editable=False,
        help_text=_("What kind of problem the last error is (integrations.teams.diagnosis.Code): what the portal "
                    "decides by (the troubleshooting tip, whether a success clears the marker)."))
    last_error_at = models.DateTimeField(_("Last error at"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("Last successful contact"), null=True, blank=True)
    synced_until = models.DateTimeField(
        _("Recordings discovered up to"), null=True, blank=True,
        help_text=_("The next sync asks Microsoft for recordings from a little before this time."))
    sync_lock_until = models.DateTimeField(null=True, blank=True, editable=False)
    # Change notifications (integrations/teams/subscriptions.py): why they are off, and what was last heard.
    notifications_error = models.TextField(
        _("Why notifications are off"), blank=True, editable=False,
        help_text=_("The reason the last subscription could not be created or renewed; the integration polls."))
    last_notification_at = models.DateTimeField(_("Last notification"), null=True, blank=True, editable=False)
    last_reconciliation_at = models.DateTimeField(_("Last reconciliation"), null=True, blank=True, editable=False)
    reconciliation_requested_at = models.DateTimeField(
        _("Reconciliation requested at"), null=True, blank=True, editable=False,
        help_text=_("A gap in the notifications (subscription lost, renewal failed, missed notifications): a "
                    "reconciliation round that starts after this covers it."))

    objects = TeamsIntegrationQuerySet.as_manager()

    class Meta:
        verbose_name = _("Teams integration")
        verbose_name_plural = _("Teams integrations")
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant_id", "client_id"], name="teamsintegration_unique_app",
                violation_error_message=DUPLICATE_APP_MESSAGE,
            )
        ]

    def __str__(self):
        return self.name

    @property
    def never_enabled(self) -> bool:
        """Never enabled and never synced: enabling it is the moment to choose new recordings only or a backfill."""
        return self.backfill_days is None and self.synced_until is None

    def expires_at(self, recorded_at):
        """When Microsoft deletes a recording made at `recorded_at`."""
        return recorded_at + expiry_period(self.recording_expiry_days) if recorded_at else None

    def secret_expires_soon(self, today=None) -> bool:
        today = today or timezone.localdate()
        return bool(self.secret_expires_on) and self.secret_expires_on <= today + timedelta(
            days=SECRET_EXPIRY_WARNING_DAYS)


class IntegrationGroup(models.Model):
    """A Microsoft Entra group of an opt-in or opt-out upload policy."""

    integration = models.ForeignKey(TeamsIntegration, on_delete=models.CASCADE, related_name="groups")
    group_id = models.CharField(_("Group object ID"), max_length=36, validators=[validate_guid],
                                help_text=_("The group's Object ID from Microsoft Entra ID > Groups."))
    display_name = models.CharField(_("Display name"), max_length=256, blank=True)

    class Meta:
        verbose_name = _("group")
        verbose_name_plural = _("groups")
        ordering = ["display_name", "group_id"]
        constraints = [models.UniqueConstraint(fields=["integration", "group_id"], name="integrationgroup_unique")]

    def __str__(self):
        return self.display_name or self.group_id


def expiring_soon(now=None, *, integration, recorded_at):
    """A condition on recordings (reached through the field paths given) that Microsoft deletes within
    AT_RISK_DAYS, per integration's expiry setting (one small query for the settings)."""
    now = now or timezone.now()
    window = models.Q(pk__in=[])
    for integration_id, days in TeamsIntegration.objects.values_list("pk", "recording_expiry_days"):
        made_after = now - expiry_period(days)  # earlier ones have expired already
        window |= models.Q(**{integration: integration_id, f"{recorded_at}__gt": made_after,
                              f"{recorded_at}__lte": made_after + timedelta(days=AT_RISK_DAYS)})
    return window


class RecordingQuerySet(models.QuerySet):
    def claimable(self, now=None):
        """Recordings a worker may take up now: new ones (unless held back, see sync._hold_downloads), failed
        ones whose wait is over and whose tries are not used up, and downloads whose worker has gone quiet
        (killed or restarted)."""
        now = now or timezone.now()
        quiet = now - timedelta(seconds=setting("MEDIASPACE_INGEST_LEASE_SECONDS"))
        return self.filter(
            models.Q(state=Recording.State.DISCOVERED)
            & (models.Q(next_attempt_at__isnull=True) | models.Q(next_attempt_at__lte=now))
            | models.Q(state=Recording.State.FAILED, next_attempt_at__lte=now, attempts__lt=Recording.MAX_ATTEMPTS)
            | models.Q(state=Recording.State.DOWNLOADING)
            & (models.Q(lease_until__isnull=True) | models.Q(lease_until__lt=now))
            & (models.Q(entry__isnull=True) | models.Q(entry__heartbeat_at__isnull=True)
               | models.Q(entry__heartbeat_at__lt=quiet))
        )

    def at_risk(self, now=None):
        """Recordings Microsoft still has but the portal not, that Microsoft deletes within AT_RISK_DAYS
        (by each integration's expiry setting), closest to expiry first."""
        return (self.filter(expiring_soon(now, integration="integration_id", recorded_at="recorded_at"))
                .exclude(state__in=NOT_AT_RISK).order_by("recorded_at"))

    def state_counts(self) -> dict:
        """{state: how many}, for the states that have any (the ledger's subtitle, the Sync now page)."""
        return dict(self.order_by().values_list("state").annotate(n=models.Count("pk")))

    def held_by_default_user(self):
        return self.filter(owner_rule__in=[Recording.OwnerRule.DEFAULT_NO_MATCH,
                                           Recording.OwnerRule.DEFAULT_AMBIGUOUS])

    def with_ambiguous_owner(self):
        """More than one portal user matched the organizer (held by the default user, or failed)."""
        return self.filter(owner_rule__in=[Recording.OwnerRule.DEFAULT_AMBIGUOUS, Recording.OwnerRule.AMBIGUOUS])

    def due(self, now=None):
        """Claimable, and not queued within the last few minutes."""
        now = now or timezone.now()
        return self.claimable(now).filter(models.Q(queued_until__isnull=True) | models.Q(queued_until__lt=now))


class Subscription(models.Model):
    """A Microsoft Graph change-notification subscription of an integration, one per resource."""

    class Resource(models.TextChoices):
        RECORDINGS = "communications/onlineMeetings/getAllRecordings", _("Recordings")
        TRANSCRIPTS = "communications/onlineMeetings/getAllTranscripts", _("Transcripts")

    integration = models.ForeignKey(TeamsIntegration, on_delete=models.CASCADE, related_name="subscriptions")
    subscription_id = models.CharField(_("Subscription ID"), max_length=64, unique=True)
    resource = models.CharField(_("Resource"), max_length=128, choices=Resource.choices)
    client_state = EncryptedCharField(
        _("Client state"), max_length=128, help_text=_("The secret each notification must carry; never shown."))
    expires_at = models.DateTimeField(_("Expires"))
    created = models.DateTimeField(_("Created"), auto_now_add=True)
    renewed_at = models.DateTimeField(_("Last renewed"), null=True, blank=True)
    last_notification_at = models.DateTimeField(_("Last notification"), null=True, blank=True)

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        ordering = ["integration", "resource"]
        constraints = [models.UniqueConstraint(fields=["integration", "resource"], name="subscription_per_resource")]

    def __str__(self):
        return f"{self.get_resource_display()} ({self.subscription_id})"


class MeetingTranscript(models.Model):
    """A meeting transcript Microsoft announced (a getAllTranscripts notification) or listed (getAllTranscripts in
    a sync round). The ingest asks Microsoft for the transcripts of the meetings that have one only, and a
    transcript announced before its recording is attached when the recording's entry is ready."""

    integration = models.ForeignKey(TeamsIntegration, on_delete=models.CASCADE, related_name="transcripts")
    transcript_id = models.CharField(_("transcript id"), max_length=512)
    meeting_id = models.CharField(_("meeting id"), max_length=512)
    organizer_id = models.CharField(_("organizer (Azure user id)"), max_length=64)
    content_correlation_id = models.CharField(
        max_length=256, blank=True, help_text=_("Links the transcript with its recording; empty when not known."))
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("meeting transcript")
        verbose_name_plural = _("meeting transcripts")
        constraints = [models.UniqueConstraint(fields=["integration", "transcript_id"], name="transcript_unique")]
        indexes = [models.Index(fields=["integration", "meeting_id"], name="transcript_meeting")]

    def __str__(self):
        return self.transcript_id


class Recording(models.Model):
    """The ledger: one row per Microsoft recording of an integration. This row makes 'exactly once' true."""

    MAX_ATTEMPTS = 6

    class State(models.TextChoices):
        DISCOVERED = "discovered", _("Discovered")
        DOWNLOADING = "downloading", _("Downloading")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")
        DISCARDED = "discarded", _("Discarded")  # by its owner: never ingested again

    class OwnerRule(models.TextChoices):
        """Which of the owner rules (owners.resolve_owner) gave the recording its owner, or why none could."""

        NONE = "", _("Not applied")
        FOUND = "found", _("Found")
        CREATED = "created", _("Created")
        DEFAULT_NO_MATCH = "default_no_match", _("Default user (no match)")
        DEFAULT_AMBIGUOUS = "default_ambiguous", _("Default user (more than one match)")
        AMBIGUOUS = "ambiguous", _("More than one match, no default user")
        NO_MATCH = "no_match", _("No match, no default user")
        CANNOT_CREATE = "cannot_create", _("Cannot create the user")

    class FoundBy(models.TextChoices):
        RECONCILIATION = "reconciliation", _("Reconciliation")
        NOTIFICATION = "notification", _("Notification")

    class Decision(models.TextChoices):
        NONE = "", _("Not asked")
        PENDING = "pending", _("Waiting for the owner")
        KEPT = "kept", _("Kept")

    integration = models.ForeignKey(TeamsIntegration, on_delete=models.CASCADE, related_name="recordings")
    recording_id = models.CharField(_("recording id"), max_length=512)
    meeting_id = models.CharField(_("meeting id"), max_length=512)
    found_by = models.CharField(_("found by"), max_length=16, choices=FoundBy.choices, default=FoundBy.RECONCILIATION,
                                help_text=_("A change notification, or a sync round that asked Microsoft."))
    organizer_id = models.CharField(_("organizer (Azure user id)"), max_length=64)
    organizer_upn = models.CharField(_("organizer (UPN)"), max_length=256, blank=True)
    organizer_name = models.CharField(_("organizer"), max_length=256, blank=True)
    organizer_mail = models.CharField(_("organizer e-mail"), max_length=256, blank=True)
    content_url = models.URLField(_("content URL"), max_length=2048, blank=True)
    content_correlation_id = models.CharField(max_length=256, blank=True, editable=False,
                                              help_text=_("Links the recording with its transcript."))
    recorded_at = models.DateTimeField(_("recorded at"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.DISCOVERED)
    reason = models.TextField(_("reason"), blank=True, help_text=_("Why it failed or was skipped; how the owner "
                                                                    "was chosen."))
    owner_rule = models.CharField(
        _("owner rule"), max_length=24, choices=OwnerRule.choices, blank=True, default=OwnerRule.NONE,
        help_text=_("Which owner rule applied the last time the owner was looked up (the reason says how)."))
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    lease_until = models.DateTimeField(_("worker holds it until"), null=True, blank=True)
    queued_until = models.DateTimeField(_("queued until"), null=True, blank=True,
                                        help_text=_("A queued recording is not queued again before this."))
    transcript_done = models.BooleanField(_("transcript attached"), default=False)
    participants = models.JSONField(
        _("participants"), default=list, blank=True, editable=False,
        help_text=_("The meeting's participants when the recording arrived (id, upn, name, tenant, role), so that "
                    "changed permission settings can be applied to existing recordings."))
    decision = models.CharField(_("owner's decision"), max_length=16, choices=Decision.choices, blank=True,
                                default=Decision.NONE)
    entry = models.ForeignKey("mediaspace.MediaEntry", on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+", verbose_name=_("media entry"))
    discovered = models.DateTimeField(_("discovered"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    objects = RecordingQuerySet.as_manager()

    class Meta:
        verbose_name = _("recording")
        verbose_name_plural = _("recordings")
        ordering = ["-recorded_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["integration", "recording_id"], name="recording_unique")]
        # decision: My Media's notices find the few recordings waiting for their owner's decision without going
        # through every entry of the user.
        indexes = [models.Index(fields=["integration", "state"]), models.Index(fields=["decision"],
                                                                               name="recording_decision")]

    def add_note(self, line):
        """Append a line to the row's reason (what happened to it, in words an administrator reads)."""
        Recording.objects.filter(pk=self.pk).update(reason=Concat("reason", models.Value("\n" + line)))

    def __str__(self):
        when = f"{self.recorded_at:%Y-%m-%d %H:%M}" if self.recorded_at else self.recording_id[:40]
        return f"{self.organizer_upn or self.organizer_id}, {when}"


NOT_AT_RISK = [Recording.State.READY, Recording.State.DISCARDED]
