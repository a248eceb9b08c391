// The model-name hash index in the config segment: open addressing over
// uint32_t entries (model index + 1; 0 = empty), built by the daemon, read
// by clients with no allocation and no file I/O.
#pragma once
#include <cstdint>
#include <string_view>

#include "model_price.h"

namespace ab {

// Looks `name` up, trying the full name first and then the name with each
// leading "provider/" segment removed ("openrouter/google/gemini-3-pro" ->
// "google/gemini-3-pro" -> "gemini-3-pro"). Bounds-checks every entry.
const ModelPrice* find_model(const ModelPrice* models, uint32_t model_count, const uint32_t* index,
                             uint32_t index_capacity, std::string_view name);

// Daemon side: fills `index` (capacity a power of two, zeroed by the caller)
// for models[0..count). Returns false if a name is duplicated or the index
// is too small; the first entry of a duplicate name wins either way.
bool build_model_index(const ModelPrice* models, uint32_t count, uint32_t* index, uint32_t index_capacity);

}  // namespace ab
