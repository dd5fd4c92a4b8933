from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date

from integrations.models import TeamsIntegration
from integrations.teams import sync


class Command(BaseCommand):
    help = ("Sync Teams recordings now: discover new recordings of every enabled integration (or one), then "
            "ingest them here, with progress. --since backfills from a date.")

    def add_arguments(self, parser):
        parser.add_argument("--integration", type=int, help="The id of one integration (default: every enabled one).")
        parser.add_argument("--since", help="Backfill: look for recordings from this date (YYYY-MM-DD) on.")
        parser.add_argument("--queue", action="store_true",
                            help="Hand the recordings to the django-q2 cluster instead of ingesting them here.")

    def handle(self, *args, integration=None, since=None, queue=False, **options):
        integrations = TeamsIntegration.objects.enabled()
        if integration is not None:
            integrations = TeamsIntegration.objects.filter(pk=integration)
            if not integrations.exists():
                raise CommandError(f"There is no Teams integration with id {integration}.")
            if not integrations.filter(enabled=True).exists():
                raise CommandError(f"Teams integration {integration} is disabled: enable it first.")
        start = None
        if since:
            day = parse_date(since)
            if day is None:
                raise CommandError(f"--since takes a date such as 2026-01-31, not {since!r}.")
            start = timezone.make_aware(datetime.combine(day, time.min))
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

    def _bar(self, label, done, total, width=30):
        filled = width * done // total if total else width
        self.stdout.write(f"\r  {label}: [{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
                          ending="\n" if done >= total else "")
        self.stdout.flush()
