// The TFLite schema as edgerun's C++ code needs it: field descriptors, enum
// values and option-table layouts generated from the installed ai-edge-litert
// into schema_tables.inc (tools/gen_schema_tables.py), in namespace
// edgerun::schema (e.g. schema::BuiltinOperator_CUSTOM).
#pragma once

#include "model/flatbuffer_reader.h"
#include "model/schema_tables.inc"
