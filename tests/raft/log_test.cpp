#include "raft/log.hpp"

#include <catch2/catch.hpp>

using namespace coraft::raft;

namespace {
Log make_log(std::vector<Term> terms) {
  std::vector<EntryPtr> entries;
  for (std::size_t i = 0; i < terms.size(); ++i)
    entries.push_back(std::make_shared<Entry>(Entry{terms[i], i + 1, EntryKind::kCommand, "x"}));
  return Log(std::move(entries));
}
}  // namespace

TEST_CASE("log terms, slices and truncation", "[raft][log]") {
  Log log = make_log({1, 1, 2, 2, 2, 4});
  CHECK(log.last_index() == 6);
  CHECK(log.last_term() == 4);
  CHECK(log.term_at(0) == Term{0});
  CHECK(log.term_at(3) == Term{2});
  CHECK_FALSE(log.term_at(7));
  CHECK(log.slice(2, 5, 100, 1 << 20).size() == 4);
  CHECK(log.slice(2, 5, 2, 1 << 20).size() == 2);
  CHECK(log.slice(2, 5, 100, 1).size() == 1);  // at least one entry, even over the byte budget
  log.truncate_from(4);
  CHECK(log.last_index() == 3);
  CHECK_THROWS(log.append(std::make_shared<Entry>(Entry{1, 4, EntryKind::kCommand, ""})));  // term goes back
}

TEST_CASE("log searches used by fast backtracking", "[raft][log]") {
  Log log = make_log({1, 1, 2, 2, 2, 4, 4});
  CHECK(log.last_index_of_term(2, 7) == Index{5});
  CHECK(log.last_index_of_term(2, 4) == Index{4});
  CHECK_FALSE(log.last_index_of_term(3, 7));
  CHECK(log.last_index_of_term(4, 7) == Index{7});
  CHECK(log.first_index_of_term_at(5, 1) == 3);
  CHECK(log.first_index_of_term_at(5, 4) == 4);
  CHECK(log.first_index_of_term_at(2, 1) == 1);
}

TEST_CASE("election restriction compares last term, then length", "[raft][5.4.1]") {
  Log log = make_log({1, 2, 2});
  CHECK(log.is_up_to_date(3, 2));
  CHECK(log.is_up_to_date(1, 3));
  CHECK_FALSE(log.is_up_to_date(2, 2));
  CHECK_FALSE(log.is_up_to_date(10, 1));
}
