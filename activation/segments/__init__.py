"""Segments: named conditions over profiles, features, scores and offers, kept as membership.

- `fields`: what a segment can test, read from the warehouse as it stands.
- `profile_fields`: `segments.profile_fields`, every field in one row per profile, built each run.
- `compiler`: a definition from kindred.yaml -> one parameterised SQL query, built with sqlglot.
- `membership`: `segments.membership` (current members), `segments.membership_history` (entries
  and exits per run) and `segments.evaluations` (one row per segment per run).
- `export`: a segment's members with its export columns, consent applied.

See docs/segments.md.
"""

from activation.segments.compiler import CompiledSegment, SegmentError, compile_export, compile_segment
from activation.segments.fields import FieldCatalog, SegmentField, load_catalog
from activation.segments.profile_fields import build_profile_fields

__all__ = [
    "CompiledSegment",
    "FieldCatalog",
    "SegmentError",
    "SegmentField",
    "build_profile_fields",
    "compile_export",
    "compile_segment",
    "load_catalog",
]
