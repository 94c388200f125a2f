// The message of the exception a call must throw; fails the test when it throws none.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <typeinfo>

namespace secateurs::testing {

template <class Exception, class Call>
std::string message_of(Call&& call) {
  try {
    call();
  } catch (const Exception& e) {
    return e.what();
  }
  FAIL("expected an exception of type " << typeid(Exception).name());
  return "";
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace secateurs::testing
