#include "net/secret_file.hpp"

#include <fmt/format.h>
#include <openssl/rand.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace coraft::net {
namespace {

constexpr std::size_t kMaxSecretFileBytes = 4096;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Closes a file descriptor on every path out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += kDigits[b >> 4];
    out += kDigits[b & 0xF];
  }
  return out;
}

std::string load_secret_file(const std::string& path, std::string_view what) {
  // Open first and check the opened file (fstat), so the checks and the read see the same file.
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY)};
  if (file.fd < 0) {
    const int error = errno;
    throw ConfigError(fmt::format("{} {}: {}{}", what, path, std::strerror(error),
                                  error == ENOENT ? " (create one with: kvctl keygen " + path + ")" : ""));
  }
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) throw ConfigError(fmt::format("{} {}: {}", what, path, std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) throw ConfigError(fmt::format("{} {}: not a regular file", what, path));
  if ((st.st_mode & 077) != 0) {
    throw ConfigError(fmt::format("{} {}: group or others have access (mode {:04o}); a secret must be private to its "
                                  "owner: chmod 600 {}",
                                  what, path, st.st_mode & 07777, path));
  }
  std::string text(kMaxSecretFileBytes + 1, '\0');
  std::size_t size = 0;
  while (size < text.size()) {
    const ssize_t n = ::read(file.fd, text.data() + size, text.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw ConfigError(fmt::format("{} {}: {}", what, path, std::strerror(errno)));
    if (n == 0) break;
    size += static_cast<std::size_t>(n);
  }
  if (size > kMaxSecretFileBytes) {
    throw ConfigError(fmt::format("{} {}: longer than {} bytes; expected hex digits", what, path, kMaxSecretFileBytes));
  }
  text.resize(size);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  std::string secret;
  secret.reserve(text.size() / 2);
  bool hex = text.size() % 2 == 0;
  for (std::size_t i = 0; hex && i < text.size(); i += 2) {
    const int high = hex_value(text[i]), low = hex_value(text[i + 1]);
    if (high < 0 || low < 0) hex = false;
    else secret += static_cast<char>(high * 16 + low);
  }
  if (!hex) {
    throw ConfigError(fmt::format("{} {}: must hold an even number of hex digits and nothing else (create one with: "
                                  "kvctl keygen PATH)",
                                  what, path));
  }
  if (secret.size() < kMinSecretBytes) {
    throw ConfigError(fmt::format("{} {}: {} bytes is too short; need at least {} (32 hex digits; kvctl keygen writes "
                                  "{})",
                                  what, path, secret.size(), kMinSecretBytes, kNewSecretBytes));
  }
  return secret;
}

void create_secret_file(const std::string& path) {
  std::string secret(kNewSecretBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()), static_cast<int>(secret.size())) != 1) {
    throw ConfigError("cannot get random bytes from OpenSSL");
  }
  // O_EXCL: never replace a key a running cluster may depend on. Mode 0600 from the start: never readable by others,
  // not even for a moment (the umask can only take permissions away).
  Fd file{::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)};
  if (file.fd < 0) {
    const int error = errno;
    throw ConfigError(fmt::format("{}: {}{}", path, std::strerror(error),
                                  error == EEXIST ? " (refusing to replace an existing key; remove it first)" : ""));
  }
  const std::string text = to_hex(secret) + "\n";
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(file.fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw ConfigError(fmt::format("{}: {}", path, std::strerror(errno)));
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(file.fd) != 0) throw ConfigError(fmt::format("{}: {}", path, std::strerror(errno)));
}

}  // namespace coraft::net
