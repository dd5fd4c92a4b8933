"""Caption conversion (mediaspace/captions.py) and media type sniffing (mediaspace/media_types.py)."""
import pytest

from mediaspace.captions import MAX_CAPTION_BYTES, CaptionError, to_webvtt
from mediaspace.media_types import HEAD_SIZE, kind_of, sniff

VTT = (
    "WEBVTT\n"
    "\n"
    "00:00:01.000 --> 00:00:03.500\n"
    "Hello there\n"
    "\n"
    "00:01.000 --> 00:04.250 align:start\n"
    "Short timestamps, with settings\n"
)

SRT = (
    "1\n"
    "00:00:01,500 --> 00:00:04,250\n"
    "Hello, world\n"
    "\n"
    "2\n"
    "01:02:03,004 --> 01:02:05,000\n"
    "Second line\n"
    "with two rows\n"
)

SRT_AS_VTT = (
    "WEBVTT\n"
    "\n"
    "1\n"
    "00:00:01.500 --> 00:00:04.250\n"
    "Hello, world\n"
    "\n"
    "2\n"
    "01:02:03.004 --> 01:02:05.000\n"
    "Second line\n"
    "with two rows\n"
)


# --- to_webvtt -----------------------------------------------------------------------------------

def test_valid_webvtt_is_kept_as_is():
    assert to_webvtt(VTT.encode()) == VTT


def test_webvtt_with_a_header_text_is_kept():
    text = "WEBVTT - Teams transcript\n\n00:00:00.000 --> 00:00:02.000\n<v Alice>Hi</v>\n"
    assert to_webvtt(text.encode()) == text


def test_webvtt_signature_must_stand_alone():
    """WebVTT: the file starts with "WEBVTT" followed by a space, a tab or a line end; browsers refuse others."""
    with pytest.raises(CaptionError):
        to_webvtt(b"WEBVTTX\n\n00:00:01.000 --> 00:00:02.000\nHello\n")


def test_byte_order_mark_is_stripped():
    assert to_webvtt(b"\xef\xbb\xbf" + VTT.encode()) == VTT


def test_crlf_line_ends_are_normalised():
    assert to_webvtt(VTT.replace("\n", "\r\n").encode()) == VTT


def test_lone_cr_line_ends_are_normalised():
    assert to_webvtt(VTT.replace("\n", "\r").encode()) == VTT


def test_non_ascii_text_survives():
    text = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nÇa va ? 日本語 🎬\n"
    assert to_webvtt(text.encode("utf-8")) == text


def test_srt_is_converted_with_correct_timestamps():
    assert to_webvtt(SRT.encode()) == SRT_AS_VTT


def test_srt_with_bom_and_crlf_is_converted():
    assert to_webvtt(b"\xef\xbb\xbf" + SRT.replace("\n", "\r\n").encode()) == SRT_AS_VTT


def test_srt_commas_in_the_text_are_left_alone():
    assert "Hello, world" in to_webvtt(SRT.encode())


@pytest.mark.parametrize("text", [
    "WEBVTT\n",
    "WEBVTT\n\nNOTE only a note, no cues\n",
    "WEBVTT\n\n00:00:01,000 --> 00:00:02,000\nSRT-style timing in a VTT file\n",
], ids=["header-only", "note-only", "comma-timing"])
def test_webvtt_without_cues_is_rejected(text):
    with pytest.raises(CaptionError, match="no cues"):
        to_webvtt(text.encode())


@pytest.mark.parametrize("raw", [
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe",
    b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n\xe9t\xe9\n",  # Latin-1, not UTF-8
    b"\xff\xfeW\x00E\x00B\x00V\x00T\x00T\x00",  # UTF-16
], ids=["png", "latin-1", "utf-16"])
def test_non_utf8_input_is_rejected(raw):
    with pytest.raises(CaptionError, match="not UTF-8"):
        to_webvtt(raw)


@pytest.mark.parametrize("raw", [b"", b"\x00\x01\x02\x03binary", b"just a text file\n", b"%PDF-1.7\n"],
                         ids=["empty", "binary", "text", "pdf"])
def test_other_files_are_rejected(raw):
    with pytest.raises(CaptionError, match="not a WebVTT"):
        to_webvtt(raw)


def test_larger_than_5_mib_is_rejected():
    raw = VTT.encode() + b"x" * (MAX_CAPTION_BYTES + 1 - len(VTT.encode()))
    with pytest.raises(CaptionError, match="5 MiB"):
        to_webvtt(raw)


def test_exactly_5_mib_is_accepted():
    raw = VTT.encode() + b"x" * (MAX_CAPTION_BYTES - len(VTT.encode()))
    assert len(to_webvtt(raw)) == MAX_CAPTION_BYTES


def test_the_limit_is_5_mib():
    assert MAX_CAPTION_BYTES == 5 * 1024 * 1024


def test_caption_error_is_a_value_error():
    assert issubclass(CaptionError, ValueError)


# --- sniff ---------------------------------------------------------------------------------------

def pad(head):
    return (head + b"\x00" * HEAD_SIZE)[:HEAD_SIZE]


def ftyp(brand):
    return b"\x00\x00\x00\x20ftyp" + brand + b"\x00\x00\x02\x00isomiso2"


RIFF = b"RIFF\x24\x08\x00\x00"

SIGNATURES = [
    # (head, filename, content type)
    (b"\x1aE\xdf\xa3", "clip.webm", "video/webm"),
    (b"\x1aE\xdf\xa3", "", "video/webm"),
    (b"\x1aE\xdf\xa3", "film.MKV", "video/x-matroska"),
    (b"\x1aE\xdf\xa3", "voice.weba", "audio/webm"),
    (ftyp(b"isom"), "clip.mp4", "video/mp4"),
    (ftyp(b"mp42"), "", "video/mp4"),
    (ftyp(b"M4A "), "", "audio/mp4"),
    (ftyp(b"M4B "), "book.m4b", "audio/mp4"),
    (ftyp(b"isom"), "song.m4a", "audio/mp4"),
    (ftyp(b"qt  "), "clip.mov", "video/quicktime"),
    (ftyp(b"heic"), "photo.heic", "image/heic"),
    (ftyp(b"heix"), "", "image/heic"),
    (ftyp(b"mif1"), "photo.heif", "image/heic"),
    (b"OggS\x00\x02", "song.ogg", "audio/ogg"),
    (b"OggS\x00\x02", "voice.opus", "audio/ogg"),
    (b"OggS\x00\x02", "clip.ogv", "video/ogg"),
    (RIFF + b"WAVEfmt ", "sound.wav", "audio/wav"),
    (RIFF + b"AVI LIST", "clip.avi", "video/x-msvideo"),
    (RIFF + b"WEBPVP8 ", "picture.webp", "image/webp"),
    (b"fLaC\x00\x00\x00\x22", "song.flac", "audio/flac"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "picture.png", "image/png"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "photo.jpg", "image/jpeg"),
    (b"\xff\xd8\xff\xe1\x00\x10Exif", "photo.jpeg", "image/jpeg"),
    (b"GIF89a\x01\x00", "anim.gif", "image/gif"),
    (b"GIF87a\x01\x00", "old.gif", "image/gif"),
    (b"0&\xb2u\x8ef\xcf\x11\xa6\xd9\x00\xaa\x00b\xce\x6c", "clip.asf", "video/x-ms-asf"),
    (b"0&\xb2u\x8ef\xcf\x11\xa6\xd9\x00\xaa\x00b\xce\x6c", "clip.WMV", "video/x-ms-wmv"),
    (b"ID3\x04\x00\x00\x00\x00\x00\x00", "song.mp3", "audio/mpeg"),
    (b"\xff\xfb\x90\x64", "song.mp3", "audio/mpeg"),  # MPEG-1 layer III
    (b"\xff\xfa\x90\x64", "", "audio/mpeg"),  # MPEG-1 layer III, with CRC
    (b"\xff\xf3\x48\xc4", "", "audio/mpeg"),  # MPEG-2 layer III
    (b"\xff\xe3\x18\xc4", "", "audio/mpeg"),  # MPEG-2.5 layer III
    (b"\xff\xfd\x90\x64", "", "audio/mpeg"),  # MPEG-1 layer II
    (b"\xff\xf1\x50\x80", "sound.aac", "audio/aac"),  # ADTS, MPEG-4, no CRC
    (b"\xff\xf9\x50\x80", "", "audio/aac"),  # ADTS, MPEG-2, no CRC
    (b"\xff\xf0\x50\x80", "", "audio/aac"),  # ADTS with CRC
]


@pytest.mark.parametrize("head, filename, expected", SIGNATURES,
                         ids=[f"{expected}-{filename or 'noname'}" for _h, filename, expected in SIGNATURES])
def test_sniff_knows_the_signature(head, filename, expected):
    assert sniff(pad(head), filename) == expected


@pytest.mark.parametrize("head, filename, expected", SIGNATURES,
                         ids=[f"{expected}-{filename or 'noname'}" for _h, filename, expected in SIGNATURES])
def test_kind_of_a_sniffed_type_is_its_media_kind(head, filename, expected):
    assert kind_of(sniff(pad(head), filename)) == expected.partition("/")[0]


NOT_MEDIA = [
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "paper.pdf"),
    (b"PK\x03\x04\x14\x00\x06\x00", "archive.zip"),
    (b"PK\x03\x04\x14\x00\x06\x00", "fake.mp4"),
    (b"Hello, this is a plain text file.\n", "notes.txt"),
    (b"Hello, this is a plain text file.\n", "renamed.webm"),
    (b"<!DOCTYPE html><html>", "page.html"),
    (b"MZ\x90\x00\x03\x00", "program.exe"),
    (b"\x7fELF\x02\x01\x01", "program"),
    (b"\x1f\x8b\x08\x00", "data.gz"),
    (RIFF + b"CDDA", "track.cda"),
    (b"", "empty.mp4"),
    (b"\xff", "truncated.mp3"),
    (b"RIFF", "short.wav"),
]


@pytest.mark.parametrize("head, filename", NOT_MEDIA, ids=[filename for _head, filename in NOT_MEDIA])
def test_sniff_says_nothing_for_non_media(head, filename):
    assert sniff(head, filename) == ""


def test_sniff_does_not_trust_the_file_name_alone():
    assert sniff(pad(b"plain text"), "movie.mp4") == ""


def test_sniff_needs_no_more_than_head_size_bytes():
    assert sniff(pad(ftyp(b"qt  "))[:HEAD_SIZE], "clip.mov") == "video/quicktime"


# --- kind_of -------------------------------------------------------------------------------------

@pytest.mark.parametrize("content_type, kind", [
    ("video/webm", "video"),
    ("video/mp4; codecs=avc1", "video"),
    ("audio/mpeg", "audio"),
    ("image/png", "image"),
    ("VIDEO/MP4", "video"),
    ("Audio/Ogg", "audio"),
    ("application/pdf", ""),
    ("application/octet-stream", ""),
    ("text/vtt", ""),
    ("videos/mp4", ""),
    ("", ""),
    (None, ""),
])
def test_kind_of(content_type, kind):
    assert kind_of(content_type) == kind
