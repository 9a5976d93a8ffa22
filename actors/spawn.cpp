#include "actors/spawn.hpp"

#include <asio/co_spawn.hpp>
#include <spdlog/spdlog.h>

#include <exception>

namespace coraft::actors {

void spawn(const asio::any_io_executor& executor, std::string name, asio::awaitable<void> body, OnActorExit on_exit) {
  asio::co_spawn(executor, std::move(body),
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
