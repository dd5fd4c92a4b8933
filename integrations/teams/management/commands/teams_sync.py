from argparse import ArgumentTypeError
from datetime import date, datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date

from integrations.microsoft.errors import GraphError
from integrations.teams.models import TeamsIntegration
from integrations.teams import preview, sync
from integrations.teams.diagnosis import explain


EARLIEST_SINCE = date(2000, 1, 1)  # long before Teams: any real backfill starts later


def since_date(value):
    """--since's type: a real calendar day from EARLIEST_SINCE to today, or a message that says what is wrong."""
    if isinstance(value, date):
        return value
    try:
        day = parse_date(value)
    except ValueError as error:  # well formed, but not a day of the calendar (2024-13-45)
        raise ArgumentTypeError(f"takes a date such as 2026-01-31, not {value!r} ({error}).") from None
    if day is None:
        raise ArgumentTypeError(f"takes a date such as 2026-01-31, not {value!r}.")
    if not EARLIEST_SINCE <= day <= timezone.localdate():
        raise ArgumentTypeError(f"takes a date from {EARLIEST_SINCE} to today, not {value!r}.")
    return day


class Command(BaseCommand):
    help = ("Sync Teams recordings now: discover new recordings of every enabled integration (or one), then "
            "ingest them here, with progress. --since backfills from a date; --dry-run only lists what "
            "would be ingested.")

    def add_arguments(self, parser):
        parser.add_argument("--integration", type=int, help="The id of one integration (default: every enabled one).")
        parser.add_argument("--since", type=since_date,
                            help="Backfill: look for recordings from this date (YYYY-MM-DD, 2000-01-01 to today) on.")
        parser.add_argument("--queue", action="store_true",
                            help="Hand the recordings to the django-q2 cluster instead of ingesting them here.")
        parser.add_argument("--dry-run", action="store_true",
                            help="Only list what the next sync would ingest (meeting, date, owner and why, "
                                 "collaborators with their permission): nothing is downloaded or changed.")

    def handle(self, *args, integration=None, since=None, queue=False, dry_run=False, **options):
        start = None
        if since:
            try:
                day = since_date(since)  # call_command(since=...) skips argparse's type
            except ArgumentTypeError as error:
                raise CommandError(f"--since {error}") from None
            start = timezone.make_aware(datetime.combine(day, time.min))
        integrations = TeamsIntegration.objects.enabled()
        if integration is not None:
            integrations = TeamsIntegration.objects.filter(pk=integration)
            if not integrations.exists():
                raise CommandError(f"There is no Teams integration with id {integration}.")
            if not dry_run and not integrations.filter(enabled=True).exists():
                raise CommandError(f"Teams integration {integration} is disabled: enable it first.")
        if dry_run:
            for each in integrations:
                self._dry_run(each, start)
            return
        for each in integrations:
            self.stdout.write(f"{each.name}: looking for recordings"
                              + (f" since {start:%Y-%m-%d}" if start else "") + "...")
            due = []
            result = sync.run(each, since=start, queue=due.append if not queue else sync.queue_ingest,
                              progress=lambda done, total: self._bar("users", done, total))
            if "problem" in result or "skipped" in result:
                self.stderr.write(f"{each.name}: {result.get('problem') or result.get('skipped')}")
                continue
            self.stdout.write(f"{each.name}: {result['discovered']} new, {result['queued']} to ingest.")
            for done, recording_id in enumerate(due, start=1):
                sync.ingest(recording_id)
                self._bar("recordings", done, len(due))
        self.stdout.write(self.style.SUCCESS("Done."))

    def _dry_run(self, integration, start):
        """What the next round would ingest, from preview.plan (which reads only)."""
        self.stdout.write(f"{integration.name}: dry run - nothing is downloaded or changed.")
        if not integration.enabled:
            self.stdout.write("  The integration is disabled: nothing is ingested until it is enabled.")
        try:
            planned = preview.plan(integration, since=start,
                                   progress=lambda done, total: self._bar("users", done, total))
        except GraphError as error:
            self.stderr.write(f"{integration.name}: {explain(error).message}")
            return
        new = sum(each.new for each in planned.recordings)
        self.stdout.write(
            f"  Recordings since {timezone.localtime(planned.window_start):%Y-%m-%d %H:%M}: {planned.listed} "
            f"listed by Microsoft, {planned.known} already in the portal's ledger. The next sync would ingest "
            f"{len(planned.recordings)} ({new} new, {len(planned.recordings) - new} waiting in the ledger).")
        for each in planned.recordings:
            when = f"{timezone.localtime(each.start):%Y-%m-%d %H:%M}" if each.start else "date unknown"
            organizer = each.recording.organizer_upn or each.recording.organizer_id
            self.stdout.write(f"\n  - {each.subject} ({when}), organizer {organizer}"
                              + ("" if each.new else f" [in the ledger: {each.recording.get_state_display()}]"))
            self.stdout.write(f"    entry: {each.name}")
            if each.problem:
                self.stdout.write(f"    problem: {each.problem}")
            self.stdout.write(f"    owner: {each.owner_summary}")
            for step in each.owner.steps:
                self.stdout.write(f"      {step}")
            if each.owner.problem:
                self.stdout.write(f"      {each.owner.problem}")
            self.stdout.write("    collaborators:" + ("" if each.collaborators else " none"))
            for person in each.collaborators:
                self.stdout.write(f"      {person}")
        self.stdout.write(self.style.SUCCESS(f"{integration.name}: dry run done, nothing changed."))

    def _bar(self, label, done, total, width=30):
        filled = width * done // total if total else width
        self.stdout.write(f"\r  {label}: [{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
                          ending="\n" if done >= total else "")
        self.stdout.flush()
