"""Cues stored before their WebVTT character references (&amp; &lt; ...) were decoded: store them again."""
import html

from django.db import migrations


def decode_character_references(apps, schema_editor):
    """Rebuild the cues of each track that has an undecoded-looking cue from its file, so that text decoded
    already (a file that says "&amp;lt;") is never decoded twice; decode the stored text if the file is gone."""
    from mediaspace.captions import cues

    CaptionTrack, CaptionCue = apps.get_model("mediaspace", "CaptionTrack"), apps.get_model("mediaspace", "CaptionCue")
    affected = CaptionCue.objects.filter(text__contains="&").values("track_id")
    for track in CaptionTrack.objects.filter(pk__in=affected).iterator():
        stored = CaptionCue.objects.filter(track_id=track.pk)
        try:
            with track.file.open("rb") as file:
                text = file.read().decode("utf-8-sig")
        except (OSError, ValueError):
            for cue in stored.filter(text__contains="&"):
                CaptionCue.objects.filter(pk=cue.pk).update(text=" ".join(html.unescape(cue.text).split()))
            continue
        stored.delete()
        CaptionCue.objects.bulk_create(CaptionCue(track_id=track.pk, entry_id=track.entry_id, start=start, end=end,
                                                  text=cue_text) for start, end, cue_text in cues(text))


class Migration(migrations.Migration):

    dependencies = [
        ("mediaspace", "0002_caption_cues"),
    ]

    operations = [
        migrations.RunPython(decode_character_references, migrations.RunPython.noop),
    ]
