// The applier's index of blocking queries: which queries a changed key or a deleted prefix may concern.

#include "actors/watch_table.hpp"

#include <catch2/catch.hpp>

using namespace coraft;
using actors::WatchTable;
using Ids = std::vector<std::uint64_t>;

TEST_CASE("watch table: a changed key concerns queries on it and on every prefix of it", "[watch]") {
  WatchTable t;
  t.add(1, kv::KeyRange{"app/config", false});
  t.add(2, kv::KeyRange{"app/", true});
  t.add(3, kv::KeyRange{"", true});
  t.add(4, kv::KeyRange{"app/config/x", false});
  t.add(5, kv::KeyRange{"apple", true});
  t.add(6, kv::KeyRange{"app/config", false});  // two queries on one key
  CHECK(t.overlapping(kv::KeyRange{"app/config", false}) == Ids{1, 2, 3, 6});
  CHECK(t.overlapping(kv::KeyRange{"app/other", false}) == Ids{2, 3});
  CHECK(t.overlapping(kv::KeyRange{"zzz", false}) == Ids{3});
  CHECK(t.overlapping(kv::KeyRange{"apples", false}) == Ids{3, 5});
}

TEST_CASE("watch table: a deleted prefix concerns queries inside it and around it", "[watch]") {
  WatchTable t;
  t.add(1, kv::KeyRange{"app/config", false});
  t.add(2, kv::KeyRange{"app/", true});
  t.add(3, kv::KeyRange{"app/config/", true});
  t.add(4, kv::KeyRange{"b", false});
  t.add(5, kv::KeyRange{"a", true});
  CHECK(t.overlapping(kv::KeyRange{"app/", true}) == Ids{1, 2, 3, 5});
  CHECK(t.overlapping(kv::KeyRange{"app/config/", true}) == Ids{2, 3, 5});
  CHECK(t.overlapping(kv::KeyRange{"", true}) == Ids{1, 2, 3, 4, 5});
  CHECK(t.overlapping(kv::KeyRange{"c", true}).empty());
}

TEST_CASE("watch table: removed queries are gone from every index", "[watch]") {
  WatchTable t;
  t.add(1, kv::KeyRange{"k", false});
  t.add(2, kv::KeyRange{"k", true});
  t.add(3, kv::KeyRange{"k", true});
  CHECK(t.remove(2));
  CHECK_FALSE(t.remove(2));
  CHECK(t.overlapping(kv::KeyRange{"k", false}) == Ids{1, 3});
  CHECK(t.remove(3));
  CHECK(t.remove(1));
  CHECK(t.empty());
  CHECK(t.overlapping(kv::KeyRange{"k", false}).empty());
  CHECK(t.all().empty());
}
