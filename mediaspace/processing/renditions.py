"""Whether a file plays in browsers as it is, and the copy or the web rendition that makes it play.

The rules are conservative: what Chrome, Firefox and Safari all play, in the container type the portal serves
it as (mediaspace/media_types.py: a QuickTime .mov is served as video/quicktime, which Firefox does not play).
"""
import contextlib
import os

from mediaspace.processing import ffmpeg

AS_IS, FASTSTART, RENDER = "as_is", "faststart", "render"
MP4_VIDEO_PIXELS = ("yuv420p", "yuvj420p")  # 8-bit 4:2:0; High 10 and 4:2:2 H.264 from cameras do not play
MP4_AUDIO = ("aac", "mp3")
WEBM_VIDEO = ("vp8", "vp9", "av1")
WEBM_AUDIO = ("opus", "vorbis")
AUDIO_AS_IS = {"mp3": ("mp3",), "wav": ("pcm_s16le", "pcm_u8", "pcm_f32le"), "ogg": WEBM_AUDIO,
               "webm": WEBM_AUDIO, "mp4": MP4_AUDIO}


def plan(probe, *, make_renditions=True) -> str:
    """as_is: browsers play the file and nothing needs doing; faststart: browsers play its streams, but the MP4
    index is at the end (or the container is QuickTime), fixed by a copy into MP4 without re-encoding; render:
    anything else, or as_is when renditions are off (the original is then served, and may not play)."""
    if probe.container in ("mp4", "mov") and _mp4_streams(probe):
        return AS_IS if probe.container == "mp4" and probe.index_at_front else FASTSTART
    if probe.container == "webm" and (not probe.has_video or probe.video_codec in WEBM_VIDEO) and (
            not probe.has_audio or probe.audio_codec in WEBM_AUDIO):
        return AS_IS
    if not probe.has_video and probe.audio_codec in AUDIO_AS_IS.get(probe.container, ()):
        return AS_IS
    return RENDER if make_renditions else AS_IS


def _mp4_streams(probe) -> bool:
    video = not probe.has_video or probe.video_codec == "h264" and probe.pixel_format in MP4_VIDEO_PIXELS
    return video and (not probe.has_audio or probe.audio_codec in MP4_AUDIO)


def faststart(source, out_path, *, on_progress=None, duration=None):
    """Copy the audio and video streams into an MP4 whose index is at the front: no re-encoding, so a Teams
    recording keeps every bit of its picture and sound. Cover art, data and timecode tracks are left out."""
    _write(out_path, ["-i", source, "-map", "0:V?", "-map", "0:a?", "-c", "copy", "-movflags", "+faststart",
                      "-f", "mp4", out_path], duration, on_progress)


def render(source, probe, out_path, *, max_height=1080, on_progress=None):
    """The web rendition: H.264 (8-bit 4:2:0) and AAC in MP4 with its index at the front, at most `max_height`
    pixels high, the picture upright (FFmpeg turns it by the rotation it read; the output has no rotation flag)
    with square pixels and even dimensions. Audio alone becomes AAC in M4A."""
    _write(out_path, render_args(source, probe, out_path, max_height=max_height), probe.duration, on_progress)


def render_args(source, probe, out_path, *, max_height=1080) -> list:
    """FFmpeg's arguments of `render` (bench/media.py runs them bare, to compare)."""
    args = [*ffmpeg.threads(), "-i", source]
    if probe.has_video:
        height = f"min(ih,{int(max_height)})"
        scale = f"scale=w='trunc(iw*sar*{height}/ih/2)*2':h='trunc({height}/2)*2'"
        args += ["-map", "0:V:0", "-map", "0:a:0?", "-vf", f"yadif=deint=interlaced,{scale},setsar=1",
                 "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"]
        muxer = "mp4"
    else:
        args += ["-map", "0:a:0", "-vn"]
        muxer = "ipod"  # MP4 with the M4A brand, which the portal serves as audio/mp4
    return [*args, "-c:a", "aac", "-b:a", "128k", "-sn", "-dn", "-max_muxing_queue_size", "1024",
            *ffmpeg.threads(), "-movflags", "+faststart", "-f", muxer, out_path]


def _write(out_path, args, duration, on_progress):
    """Run FFmpeg; a failed or interrupted run leaves no partial file behind."""
    try:
        ffmpeg.run(args, duration=duration, on_progress=on_progress)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(out_path)
        raise
