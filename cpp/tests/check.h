// Minimal test harness for edgerun's C++ tests (no external test framework).
// Each test binary is a plain executable registered with ctest; a failed
// CHECK prints file:line and the expression, and the binary exits non-zero.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace edgerun_test {

struct Registry {
  std::vector<std::pair<std::string, std::function<void()>>> tests;
  int failures = 0;
  static Registry& get() {
    static Registry r;
    return r;
  }
};

struct Register {
  Register(const char* name, std::function<void()> fn) {
    Registry::get().tests.emplace_back(name, std::move(fn));
  }
};

inline int RunAll() {
  auto& r = Registry::get();
  for (auto& t : r.tests) {
    int before = r.failures;
    t.second();
    std::printf("[%s] %s\n", r.failures == before ? " OK " : "FAIL", t.first.c_str());
  }
  std::printf("%zu tests, %d failed checks\n", r.tests.size(), r.failures);
  return r.failures == 0 ? 0 : 1;
}

}  // namespace edgerun_test

#define TEST(name)                                                        \
  static void name();                                                     \
  static ::edgerun_test::Register name##_reg_(#name, name);               \
  static void name()

#define CHECK(cond)                                                       \
  do {                                                                    \
    if (!(cond)) {                                                        \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ::edgerun_test::Registry::get().failures++;                         \
    }                                                                     \
  } while (0)

#define CHECK_MSG(cond, ...)                                              \
  do {                                                                    \
    if (!(cond)) {                                                        \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                  \
      std::fprintf(stderr, "\n");                                         \
      ::edgerun_test::Registry::get().failures++;                         \
    }                                                                     \
  } while (0)

#define TEST_MAIN() \
  int main() { return ::edgerun_test::RunAll(); }
