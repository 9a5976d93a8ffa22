#pragma once
// Histories of client operations (net/history.hpp), as the simulator's checkers use them.

#include "net/history.hpp"
#include "net/history_io.hpp"

#include <string>

namespace coraft::test {

using net::History;
using net::HistoryFormatError;
using net::load_history;
using net::operation_from_json;
using net::operation_to_json;
using net::Operation;
using net::OpKind;
using net::parse_history;
using net::history_now_us;

std::string describe(const Operation& op);

}  // namespace coraft::test
