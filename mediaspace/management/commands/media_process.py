"""Process entries that are already in the portal: probe data, pictures and web renditions (issue 15).

The work is the media pipeline's (mediaspace/processing/pipeline.py): this command picks the entries, runs
`pipeline.process` on each here in the foreground (or hands them to the processing cluster with --queue) and
shows how far it has come. Migrations never process anything: an upgraded portal's entries are processed
when an operator runs this (docs/operations.md).
"""
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from mediaspace.conf import setting
from mediaspace.media_types import kind_of
from mediaspace.models import MediaEntry
from mediaspace.processing import ffmpeg, pipeline
from mediaspace.sizes import readable_size


class Command(BaseCommand):
    help = ("Process existing entries with FFmpeg: probe data (duration, size, codecs), poster, thumbnails, seek "
            "previews and, for files that browsers cannot play, a web rendition, here with progress (or on the "
            "processing cluster with --queue). Choose --missing (entries never processed), --all (every audio and "
            "video entry) or --entry ID; --dry-run only lists them.")

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--missing", action="store_true",
                           help="Ready entries that were never processed (for example, from before the upgrade).")
        which.add_argument("--all", action="store_true",
                           help="Every audio and video entry with its file, processed again.")
        which.add_argument("--entry", type=int, metavar="ID", help="The id of one entry, processed again.")
        parser.add_argument("--queue", action="store_true",
                            help="Hand the entries to the processing cluster instead of processing them here.")
        parser.add_argument("--dry-run", action="store_true",
                            help="Only list what would be processed: nothing is read, made or changed.")

    def handle(self, *args, missing=False, all=False, entry=None, queue=False, dry_run=False, **options):
        entries = self._entries(missing=missing, entry_id=entry)
        if dry_run:
            return self._dry_run(entries)
        if not entries:
            self.stdout.write(self.style.SUCCESS("Nothing to process: every ready audio and video entry has been "
                                                 "processed." if missing else "Nothing to process: no audio or video "
                                                 "entry has its file."))
            return
        if not setting("MEDIASPACE_PROCESSING"):
            raise CommandError("Processing is turned off on this portal (MEDIASPACE_PROCESSING). "
                               "Nothing was processed.")
        if not ffmpeg.available():
            raise CommandError(
                f"FFmpeg was not found (MEDIASPACE_FFMPEG={setting('MEDIASPACE_FFMPEG')!r}, "
                f"MEDIASPACE_FFPROBE={setting('MEDIASPACE_FFPROBE')!r}): install it (`make run` does, on Debian) "
                "or point these settings at it. Nothing was processed.")
        if queue:
            return self._queue(entries, force=not missing)
        self._process(entries)

    # -- which entries ---------------------------------------------------------------------------------------

    def _entries(self, *, missing, entry_id):
        if entry_id is not None:
            entry = MediaEntry.objects.filter(pk=entry_id).first()
            if entry is None:
                raise CommandError(f"There is no media entry with id {entry_id}.")
            if not entry.media:
                raise CommandError(f"Entry {entry_id} (“{entry.name}”) has no media file to process "
                                   f"(it is {entry.get_status_display().lower()}).")
            if not self._processed_kind(entry):
                raise CommandError(f"Entry {entry_id} (“{entry.name}”) is a picture ({entry.content_type}), "
                                   "which is shown as it is: only audio and video are processed.")
            return [entry]
        with_media = MediaEntry.objects.exclude(media="").order_by("pk")
        wanted = pipeline.needs_processing if missing else self._processed_kind
        return [each for each in with_media.iterator() if wanted(each)]

    @staticmethod
    def _processed_kind(entry):
        return kind_of(entry.content_type) in pipeline.PROCESSED_KINDS

    # -- what each mode does ---------------------------------------------------------------------------------

    def _dry_run(self, entries):
        self.stdout.write("Dry run - nothing is processed or changed.")
        if not ffmpeg.available():
            self.stdout.write("  FFmpeg was not found: processing them would fail until it is installed.")
        for each in entries:
            size = readable_size(each.size) if each.size is not None else "size unknown"
            last = f"processed {each.processed:%Y-%m-%d %H:%M}" if each.processed else "never processed"
            self.stdout.write(f"  - {each.pk}: {each.name} ({each.content_type or 'type unknown'}, {size}, "
                              f"{each.get_status_display().lower()}, {last})")
        self.stdout.write(self.style.SUCCESS(
            f"Dry run done: {self._count(len(entries))} would be processed, nothing changed."))

    def _queue(self, entries, *, force):
        queued = 0
        for done, each in enumerate(entries, start=1):
            queued += bool(pipeline.queue(each, force=force))
            self._bar(f"queued {done}/{len(entries)}", done, len(entries))
        left = len(entries) - queued
        self.stdout.write(self.style.SUCCESS(
            f"{self._count(queued)} queued on the processing cluster; its workers process them."
            + (f" {self._count(left)} not queued: waiting or being processed already, or changed meanwhile."
               if left else "")))

    def _process(self, entries):
        failed = []
        for number, each in enumerate(entries, start=1):
            label = f"{number}/{len(entries)} {each.name} (id {each.pk})"
            progress = self._entry_progress(label, number - 1, len(entries))
            progress(0)
            started = timezone.now()
            try:
                result = pipeline.process(each.pk, on_progress=progress)
            except Exception as error:  # one entry's problem stops only it
                reason = str(error) or type(error).__name__
            else:
                reason = self._outcome(result, started)
            self._end_line()
            if reason:
                failed.append((each, reason))
                self.stdout.write(f"  {label}: failed: {reason}")
            else:
                self.stdout.write(f"  {label}: done")
        ready = len(entries) - len(failed)
        summary = f"{self._count(len(entries))} processed: {ready} done, {len(failed)} failed."
        if failed:
            self.stderr.write(summary)
            for each, reason in failed:
                self.stderr.write(f"  - {each.pk}: {each.name}: {reason}")
            raise CommandError(f"{self._count(len(failed))} failed; fix the cause and run "
                               "`manage.py media_process --entry ID` for each.")
        self.stdout.write(self.style.SUCCESS(summary))

    @staticmethod
    def _outcome(entry, started):
        """'' when the run made the entry Ready now, else why not."""
        if entry is None:
            return "it was deleted meanwhile."
        if entry.status == MediaEntry.Status.FAILED:
            return entry.error
        if entry.status != MediaEntry.Status.READY or entry.processed is None or entry.processed < started:
            return "another worker is processing it now; it was left to that worker."
        return ""

    # -- progress --------------------------------------------------------------------------------------------

    def _entry_progress(self, label, done_before, total):
        """on_progress for one entry: on a terminal one line redrawn (all entries, then this one); in a log, a
        plain line at each quarter, so that a long render shows it is alive without flooding the log."""
        shown = {"quarter": -1}

        def progress(percent):
            percent = max(0, min(100, int(percent)))
            if self.stdout.isatty():
                overall = (done_before * 100 + percent) // total if total else 100
                self.stdout.write(f"\r  all: {self._filled(overall)} {overall:3d}%  ·  {label[:40]}: "
                                  f"{self._filled(percent)} {percent:3d}%", ending="")
                self.stdout.flush()
            elif percent // 25 > shown["quarter"]:
                shown["quarter"] = percent // 25
                self.stdout.write(f"  {label}: {percent}%")

        return progress

    def _end_line(self):
        if self.stdout.isatty():
            self.stdout.write("")

    def _bar(self, label, done, total):
        if self.stdout.isatty():
            self.stdout.write(f"\r  {self._filled(100 * done // total if total else 100)} {label}",
                              ending="\n" if done >= total else "")
            self.stdout.flush()
        elif done >= total:
            self.stdout.write(f"  {label}")

    @staticmethod
    def _filled(percent, width=20):
        filled = width * percent // 100
        return f"[{'#' * filled}{'.' * (width - filled)}]"

    @staticmethod
    def _count(n):
        return f"{n} entry" if n == 1 else f"{n} entries"
