// edgerun: Status / Expected, the error currency of the C++ core.
// The core never throws; the binding layer converts a non-OK Status into the
// matching edgerun.Error subclass in one place (python/bindings/errors.cc).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace edgerun {

enum class Code {
  kOk = 0,
  kModelError,      // bad / corrupted / unsupported model
  kInputError,      // wrong dtype, shape, index, argument
  kInferenceError,  // the runtime failed while running
  kDelegateError,   // accelerator / delegate problem
  kRuntimeError,    // libLiteRt could not be loaded / resolved, or other runtime failure
  kBusyError,       // operation refused while zero-copy views are alive
  kClosedError,     // the object was closed
  kInternal,
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status ModelError(std::string m) { return Status(Code::kModelError, std::move(m)); }
inline Status InputError(std::string m) { return Status(Code::kInputError, std::move(m)); }
inline Status InferenceError(std::string m) { return Status(Code::kInferenceError, std::move(m)); }
inline Status DelegateError(std::string m) { return Status(Code::kDelegateError, std::move(m)); }
inline Status RuntimeError(std::string m) { return Status(Code::kRuntimeError, std::move(m)); }
inline Status BusyError(std::string m) { return Status(Code::kBusyError, std::move(m)); }
inline Status ClosedError(std::string m) { return Status(Code::kClosedError, std::move(m)); }
inline Status InternalError(std::string m) { return Status(Code::kInternal, std::move(m)); }

// Expected<T>: a value or a non-OK Status.
template <class T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::move(value)) {}            // NOLINT(implicit)
  Expected(Status status) : v_(std::move(status)) {}     // NOLINT(implicit)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& value() const& { return std::get<0>(v_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<1>(v_);
  }

 private:
  std::variant<T, Status> v_;
};

}  // namespace edgerun

#define EDGERUN_RETURN_IF_ERROR(expr)        \
  do {                                       \
    ::edgerun::Status _er_st = (expr);       \
    if (!_er_st.ok()) return _er_st;         \
  } while (0)
