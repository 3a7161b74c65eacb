"""The subset of speedscope's file-format JSON schema that ringscope's
output is validated against.

Source: https://www.speedscope.app/file-format-schema.json, generated from
jlfwong/speedscope src/lib/file-format-spec.ts (FileFormat.File,
SampledProfile, Frame, ValueUnit). Transcribed by hand for the sampled
profile type only; evented profiles are not produced by ringscope.
"""

from __future__ import annotations

from typing import Any

SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["$schema", "shared", "profiles"],
    "properties": {
        "$schema": {"const": "https://www.speedscope.app/file-format-schema.json"},
        "shared": {
            "type": "object",
            "required": ["frames"],
            "properties": {"frames": {"type": "array", "items": {"$ref": "#/definitions/Frame"}}},
        },
        "profiles": {"type": "array", "items": {"$ref": "#/definitions/SampledProfile"}},
        "name": {"type": "string"},
        "activeProfileIndex": {"type": "number"},
        "exporter": {"type": "string"},
    },
    "definitions": {
        "Frame": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "file": {"type": "string"},
                "line": {"type": "number"},
                "col": {"type": "number"},
            },
        },
        "ValueUnit": {
            "enum": ["none", "nanoseconds", "microseconds", "milliseconds", "seconds", "bytes"],
        },
        "SampledProfile": {
            "type": "object",
            "required": ["type", "name", "unit", "startValue", "endValue", "samples", "weights"],
            "properties": {
                "type": {"const": "sampled"},
                "name": {"type": "string"},
                "unit": {"$ref": "#/definitions/ValueUnit"},
                "startValue": {"type": "number"},
                "endValue": {"type": "number"},
                "samples": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
                "weights": {"type": "array", "items": {"type": "number"}},
            },
        },
    },
}
