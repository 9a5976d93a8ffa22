#pragma once
// Secret files: the cluster's peer key ("key_file") and the client token ("client_token_file") named in cluster.json.
// A secret file holds hex digits (at least 32, i.e. 16 bytes; `kvctl keygen` writes 64), optionally followed by
// whitespace. It must be a regular file that neither group nor others may read, write or execute (mode & 077 == 0),
// like ssh's private keys: a secret that every local user can read protects nothing. Every refusal is a ConfigError
// that names the file and says how to fix it.

#include "net/cluster_config.hpp"

#include <string>
#include <string_view>

namespace coraft::net {

inline constexpr std::size_t kMinSecretBytes = 16;
inline constexpr std::size_t kNewSecretBytes = 32;

// Returns the secret's bytes (hex-decoded). `what` names the setting in messages ("key_file").
std::string load_secret_file(const std::string& path, std::string_view what);

// Writes a new random secret (kNewSecretBytes from OpenSSL's RAND_bytes, as hex) to `path`, created with mode 0600.
// Refuses to replace an existing file. Throws ConfigError.
void create_secret_file(const std::string& path);

std::string to_hex(std::string_view bytes);  // lower case

}  // namespace coraft::net
