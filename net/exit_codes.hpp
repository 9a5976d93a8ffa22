#pragma once
// The exit codes every coraft program uses: one table (README: Exit codes), so a script can tell "the key is not
// there" from "the cluster did not answer" from "you called it wrong" whichever program it runs. 0-3 are the
// outcomes of talking to a cluster; everything that says "fix how you called it or what you gave it" takes the BSD
// sysexits value people already know from mail and package tools (64 usage, 66 no input, 78 configuration...).
// Header-only, so the tools that do not link the network library can use it too; net/command_line.hpp puts it into
// each program's --help.

namespace coraft::exit_code {

inline constexpr int kDone = 0;
// A definite "no": the key does not exist, a cas found another value, a check found a violation.
inline constexpr int kNo = 1;
// No definite answer in time (or nothing listens): a write may or may not have been applied.
inline constexpr int kNoAnswer = 2;
// The cluster refused the request for good: too large, or no valid client token.
inline constexpr int kRefused = 3;
inline constexpr int kUsage = 64;        // EX_USAGE: a bad command line (unknown option, missing argument, no such id)
inline constexpr int kDataError = 65;    // EX_DATAERR: an input file is malformed (a history, a course config)
inline constexpr int kNoInput = 66;      // EX_NOINPUT: a file it needs does not exist or cannot be read
inline constexpr int kUnavailable = 69;  // EX_UNAVAILABLE: kvstore cannot listen on its address
inline constexpr int kInternal = 70;     // EX_SOFTWARE: an unexpected failure (a bug: please report it)
inline constexpr int kCannotCreate = 73; // EX_CANTCREAT: an output file cannot be written (or already exists)
inline constexpr int kStorage = 74;      // EX_IOERR: kvstore's data directory cannot be used, or its disk failed
inline constexpr int kUndecided = 75;    // EX_TEMPFAIL: a check ran out of its time budget; try again with more
inline constexpr int kNotAMember = 77;  // EX_NOPERM: kvstore's replica is not (or no longer) in the cluster's configuration
inline constexpr int kConfig = 78;       // EX_CONFIG: the cluster file, or a secret file it names, is invalid

}  // namespace coraft::exit_code
