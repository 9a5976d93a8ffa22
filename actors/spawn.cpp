#include "actors/spawn.hpp"

#include "actors/local_executor.hpp"

#include <asio/co_spawn.hpp>
#include <spdlog/spdlog.h>

#include <exception>

namespace coraft::actors {

namespace {

// An io_context's executor gets the local run queue (local_executor.hpp); any other (already local, or a test's
// own) is used as it is.
asio::any_io_executor local(const asio::any_io_executor& executor) {
  if (const auto* plain = executor.target<asio::io_context::executor_type>()) return LocalExecutor(*plain);
  return executor;
}

}  // namespace

void spawn(const asio::any_io_executor& executor, std::string name, asio::awaitable<void> body, OnActorExit on_exit) {
  asio::co_spawn(local(executor), std::move(body),
                 [name = std::move(name), on_exit = std::move(on_exit)](const std::exception_ptr& failure) {
                   if (failure) {
                     try {
                       std::rethrow_exception(failure);
                     } catch (const std::exception& e) {
                       spdlog::critical("actor '{}' failed: {}", name, e.what());
                     } catch (...) {
                       spdlog::critical("actor '{}' failed with a non-standard exception", name);
                     }
                     std::rethrow_exception(failure);
                   }
                   if (on_exit) on_exit();
                 });
}

}  // namespace coraft::actors
