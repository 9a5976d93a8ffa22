#include "actors/logger.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>

namespace coraft::actors {
namespace {

spdlog::level::level_enum g_level = spdlog::level::warn;

// "%*" in a pattern: the simulated clock's reading in seconds.
class SimTimeFlag final : public spdlog::custom_flag_formatter {
 public:
  explicit SimTimeFlag(const Clock* clock) : clock_(clock) {}
  void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& dest) override {
    const auto us = clock_->now().time_since_epoch().count();
    const std::string text = fmt::format("{}.{:06}s", us / 1000000, us % 1000000);
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<SimTimeFlag>(clock_); }

 private:
  const Clock* clock_;
};

}  // namespace

bool configure_logging(const std::optional<std::string>& level) {
  static bool configured_by_flag = false;
  if (!level && configured_by_flag) return true;
  configured_by_flag = configured_by_flag || level.has_value();
  std::string name = "warn";
  if (level) name = *level;
  else if (const char* env = std::getenv("CORAFT_LOG")) name = env;
  const auto parsed = spdlog::level::from_str(name);
  // from_str answers "off" for anything it does not know; accept "off" only when asked for.
  if (parsed == spdlog::level::off && name != "off") return false;
  g_level = parsed;
  spdlog::set_level(parsed);
  return true;
}

Logger make_logger(const std::string& replica_id, const Clock* clock) {
  // Programs call configure_logging() with their flag; everything else (tests, tools) still honours CORAFT_LOG.
  static const bool from_environment = configure_logging(std::nullopt);
  (void)from_environment;
  // A sink of its own: a sink holds one formatter, and ours carry this replica's clock. Console sinks share one
  // process-wide console mutex, so lines from different loggers never interleave.
  auto logger = std::make_shared<spdlog::logger>(replica_id, std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  if (clock && clock->simulated()) {
    formatter->add_flag<SimTimeFlag>('*', clock).set_pattern("[%*] [%n] %^%l%$ %v");
  } else {
    formatter->set_pattern("%Y-%m-%d %H:%M:%S.%e [%n] %^%l%$ %v");
  }
  logger->set_formatter(std::move(formatter));
  logger->set_level(g_level);
  return logger;
}

}  // namespace coraft::actors
