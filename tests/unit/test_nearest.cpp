#include <doctest/doctest.h>

#include "host/nearest.h"

using namespace secateurs::host;

TEST_CASE("nearest: edit distance") {
  CHECK(edit_distance("", "") == 0);
  CHECK(edit_distance("abc", "") == 3);
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("learning_rat", "learning_rate") == 1);
}

TEST_CASE("nearest: suggestions are close names, closest first") {
  const std::vector<std::string> names = {"magnitude", "random", "taylor", "snip", "structured_l1"};
  CHECK(nearest_names("magnitud", names) == std::vector<std::string>{"magnitude"});
  CHECK(nearest_names("structured", names) == std::vector<std::string>{"structured_l1"});
  CHECK(nearest_names("xyzzy", names).empty());
  CHECK(did_you_mean("tailor", names) == "; did you mean 'taylor'?");
  CHECK(did_you_mean("qqqqqq", names).empty());
}
