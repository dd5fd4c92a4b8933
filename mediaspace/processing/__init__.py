"""The media pipeline: what FFmpeg finds in a file, its pictures and its web rendition, for every source."""
