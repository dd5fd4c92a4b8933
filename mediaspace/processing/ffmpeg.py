"""Running FFmpeg: where the programs are, its errors, and one run with its progress.

Every FFmpeg command of the pipeline goes through `run()`, so each one reports progress the same way, never keeps
more than the last lines of FFmpeg's messages in memory, and never outlives the worker that started it.
"""
import collections
import shutil
import subprocess
import tempfile

from django.utils.translation import gettext_lazy as _

from mediaspace.conf import setting

STDERR_LINES = 8  # the lines of FFmpeg's messages kept as a failure's reason


class MediaUnreadable(Exception):
    """FFmpeg cannot read the file as audio or video: empty, truncated, corrupt or not media at all."""

    def __init__(self, message=None):
        super().__init__(str(message or _("The file could not be read as audio or video.")))


class FFmpegFailed(Exception):
    """FFmpeg stopped with an error; `reason` is the last lines it wrote."""

    def __init__(self, reason):
        self.reason = reason
        super().__init__(reason)


def ffmpeg_path():
    return shutil.which(setting("MEDIASPACE_FFMPEG"))


def ffprobe_path():
    return shutil.which(setting("MEDIASPACE_FFPROBE"))


def available() -> bool:
    """Both programs are found (on PATH, or at the paths the settings give)."""
    return bool(ffmpeg_path() and ffprobe_path())


def threads() -> list:
    """The `-threads` option of the setting, for a decoder (before `-i`) or an encoder (before the output)."""
    count = int(setting("MEDIASPACE_FFMPEG_THREADS") or 0)
    return ["-threads", str(count)] if count > 0 else []


def run(args, *, duration=None, on_progress=None):
    """Run `ffmpeg <args>`; calls `on_progress(percent)` (0-100, whole numbers, rising) as its output advances
    through `duration` seconds, and 100 at the end. Raises FFmpegFailed with FFmpeg's last lines.

    The progress comes from `-progress pipe:1` (key=value lines on stdout); the messages go to a temporary
    file, of which only the tail is read, so a long run that warns on every frame costs no memory.
    """
    command = [ffmpeg_path() or setting("MEDIASPACE_FFMPEG"), "-hide_banner", "-nostdin", "-y",
               "-loglevel", "error", "-progress", "pipe:1", "-nostats", *map(str, args)]
    reported = -1
    with tempfile.TemporaryFile() as messages:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=messages, stdin=subprocess.DEVNULL)
        try:
            for line in process.stdout:
                key, _sep, value = line.decode("ascii", "replace").strip().partition("=")
                if key == "out_time_us" and on_progress and duration and value.lstrip("-").isdigit():
                    percent = max(0, min(99, int(int(value) / 1e6 / duration * 100)))
                    if percent > reported:
                        reported = percent
                        on_progress(percent)
            returncode = process.wait()
        except BaseException:  # the worker is stopped or the callback failed: FFmpeg must not run on alone
            process.kill()
            process.wait()
            raise
        finally:
            process.stdout.close()
        if returncode != 0:
            raise FFmpegFailed(_tail(messages) or f"ffmpeg exited with status {returncode}")
    if on_progress:
        on_progress(100)


def _tail(file, size=4096):
    """The last lines of what FFmpeg wrote to `file`."""
    end = file.seek(0, 2)
    file.seek(max(0, end - size))
    lines = collections.deque(file.read().decode("utf-8", "replace").splitlines(), maxlen=STDERR_LINES)
    return "\n".join(line for line in lines if line.strip())
