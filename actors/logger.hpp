#pragma once
// Logging through spdlog. Every line names the replica; under simulation it shows simulated time instead of the
// wall clock. Quiet by default (warnings and errors); the level comes from a flag or CORAFT_LOG.

#include "actors/clock.hpp"

#include <spdlog/logger.h>

#include <memory>
#include <optional>
#include <string>

namespace coraft::actors {

using Logger = std::shared_ptr<spdlog::logger>;

// Sets the level every coraft logger starts with: `level` if given, else $CORAFT_LOG, else "warn".
// Returns false (and keeps the old level) for an unknown level name.
bool configure_logging(const std::optional<std::string>& level);

// A logger that prefixes each line with `replica_id`; with a simulated `clock`, with simulated time too.
Logger make_logger(const std::string& replica_id, const Clock* clock = nullptr);

}  // namespace coraft::actors
