#pragma once
// kvchat's terminal session: joins a room (chat_room.hpp), prints its history and every new message, and posts each
// line typed on stdin, until /quit, the end of input or a signal. Two coroutines on one thread, a Client each.

#include "net/cluster_config.hpp"

#include <string>

namespace coraft::chat {

struct ChatOptions {
  std::string cluster_path = net::kLocalClusterFile;
  std::string room = "lobby";
  std::string nick;
  double timeout_s = 5;
  int poll_ms = 150;
  std::string token;  // the cluster's client token, when its file names one
};

// $USER when it is a valid nick, else "anon".
std::string default_nick();

// Runs the session; returns the process's exit status (net/exit_codes.hpp).
int run_chat(ChatOptions options);

}  // namespace coraft::chat
