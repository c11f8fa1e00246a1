// verify_tool: run edgerun::VerifyModel on model files (a development tool used by
// tests/tools/corrupt_corpus.py; not built by CMake, which builds only test_*.cc).
//
//   g++ -std=c++17 -O2 -Icpp/include -Icpp/src cpp/tests/verify_tool.cc cpp/src/model/verify.cc
//       cpp/src/model/flatbuffer_reader.cc -o /tmp/verify_tool
//   /tmp/verify_tool [--time N] FILE...
//
// One line per file: "OK<TAB>microseconds<TAB>path" or
// "REJECT<TAB>microseconds<TAB>path<TAB>message". With --time N the time is the
// median of N runs. Exit status: 0 all accepted, 1 some rejected, 2 usage/IO error.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "edgerun/verify.h"

int main(int argc, char** argv) {
  int repeat = 1;
  std::vector<const char*> files;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--time") == 0 && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else {
      files.push_back(argv[i]);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: %s [--time N] FILE...\n", argv[0]);
    return 2;
  }
  int rc = 0;
  for (const char* path : files) {
    std::ifstream f(path, std::ios::binary);
    if (!f) {
      std::fprintf(stderr, "cannot read %s\n", path);
      return 2;
    }
    std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    // Copy into exactly-sized heap storage so that tools such as ASan see any over-read.
    uint8_t* data = static_cast<uint8_t*>(std::malloc(bytes.size() ? bytes.size() : 1));
    if (!bytes.empty()) std::memcpy(data, bytes.data(), bytes.size());
    std::vector<double> us;
    edgerun::Status st;
    for (int r = 0; r < repeat; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      st = edgerun::VerifyModel(data, bytes.size());
      auto t1 = std::chrono::steady_clock::now();
      us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    std::free(data);
    std::sort(us.begin(), us.end());
    double median = us[us.size() / 2];
    if (st.ok()) {
      std::printf("OK\t%.1f\t%s\n", median, path);
    } else {
      std::printf("REJECT\t%.1f\t%s\t%s\n", median, path, st.message().c_str());
      rc = 1;
    }
  }
  return rc;
}
