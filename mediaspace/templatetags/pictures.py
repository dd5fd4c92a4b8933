"""The pipeline's products in templates: picture and rendition addresses, durations (mediaspace/playback.py)."""
from django import template

from mediaspace import playback

register = template.Library()
register.simple_tag(playback.picture_url, name="picture_url")
register.simple_tag(playback.playback_url, name="playback_url")
register.simple_tag(playback.seek_track_url, name="seek_track_url")
register.simple_tag(playback.player_kind, name="player_kind")
register.filter("duration_label", playback.duration_label)
register.filter("duration_spoken", playback.duration_spoken)
