// Binding of the core's option structs (preprocess::Spec, postprocess::SsdOptions,
// PipelineOptions ...) as Python classes, once each (onnxruntime's
// addObjectMethods style): one property per option under the name the Python
// API uses, a keyword constructor, to_dict(), __repr__ and choices(option).
//
// Type conversion only. A value of the wrong Python type is an InputError
// naming the option ("rotate: expected an int, got 90.5"); enum options are
// spelled with the core's name tables (edgerun/options.h), so an unknown name
// is the core's own message. Ranges and combinations are checked by the
// core's Create() functions, nowhere else. The defaults are the C++ structs'
// member initializers: a default-constructed object carries them, and the
// Python facades read their signature defaults from it.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <climits>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "bindings.h"
#include "edgerun/options.h"

namespace edgerun_py {

inline std::string repr_of(py::handle v) { return py::repr(v).cast<std::string>(); }

[[noreturn]] inline void fail_option(const std::string& name, const std::string& expected, py::handle got) {
  fail_input(name + ": expected " + expected + ", got " + repr_of(got));
}

// float -> the shortest decimal that reads back as the same float, as a double
// (0.3f reads back as 0.3, not 0.30000001192092896).
inline double short_float(float f) {
  if (!std::isfinite(f)) return f;
  char buf[32];
  for (int p = 6; p <= 9; ++p) {
    std::snprintf(buf, sizeof buf, "%.*g", p, static_cast<double>(f));
    if (std::strtof(buf, nullptr) == f) break;
  }
  return std::strtod(buf, nullptr);
}

// A str as UTF-8, or an InputError naming the option (a str holding lone
// surrogates, e.g. from an undecodable file name, has no UTF-8 form; pybind11
// would raise a bare RuntimeError).
inline std::string utf8_of(py::handle v, const std::string& name) {
  if (!PyUnicode_Check(v.ptr())) fail_option(name, "a str", v);
  Py_ssize_t n = 0;
  const char* p = PyUnicode_AsUTF8AndSize(v.ptr(), &n);
  if (!p) {
    PyErr_Clear();
    fail_option(name, "a str of valid Unicode text", v);
  }
  return std::string(p, static_cast<size_t>(n));
}

// A file system path given as str, in the bytes the OS uses (os.fsencode:
// undecodable names round-trip through surrogateescape).
inline std::string fs_path_of(py::handle v, const std::string& name) {
  if (!PyUnicode_Check(v.ptr())) fail_option(name, "a path (str)", v);
  PyObject* b = PyUnicode_EncodeFSDefault(v.ptr());
  if (!b) {
    PyErr_Clear();
    fail_option(name, "a path the file system can encode", v);
  }
  py::bytes bytes = py::reinterpret_steal<py::bytes>(b);
  return std::string(bytes);
}

// An int-like Python value (int, numpy integer: anything with __index__, not
// bool, not float) as T, or an InputError "name: expected an int in [lo, hi]".
template <class T>
T int_in_range(py::handle v, const std::string& name) {
  constexpr long long lo = std::is_unsigned_v<T> ? 0 : static_cast<long long>(std::numeric_limits<T>::min());
  constexpr unsigned long long hi = static_cast<unsigned long long>(std::numeric_limits<T>::max());
  const std::string range = "an int in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  if (PyBool_Check(v.ptr()) || !PyIndex_Check(v.ptr())) fail_option(name, "an int", v);
  PyObject* idx = PyNumber_Index(v.ptr());
  if (!idx) {
    PyErr_Clear();
    fail_option(name, "an int", v);
  }
  py::object i = py::reinterpret_steal<py::object>(idx);
  int overflow = 0;
  const long long x = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
  if (overflow > 0 && std::is_unsigned_v<T> && hi > static_cast<unsigned long long>(LLONG_MAX)) {
    const unsigned long long u = PyLong_AsUnsignedLongLong(i.ptr());
    if (!PyErr_Occurred() && u <= hi) return static_cast<T>(u);
    PyErr_Clear();
    fail_option(name, range, v);
  }
  if (overflow != 0 || (x == -1 && PyErr_Occurred())) {
    PyErr_Clear();
    fail_option(name, range, v);
  }
  if (x < lo || (x > 0 && static_cast<unsigned long long>(x) > hi)) fail_option(name, range, v);
  return static_cast<T>(x);
}

// Python value -> C++ option value.
template <class T, class Enable = void>
struct OptionValue;

template <class T>
struct OptionValue<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>> {
  static T from(py::handle v, const std::string& name) {
    if (PyBool_Check(v.ptr()) || !PyIndex_Check(v.ptr())) fail_option(name, "an int", v);
    // In range of T or an InputError naming the option: never a silent wrap
    // (threads=2**32+1 is not 1) nor pybind11's multi-line cast error.
    return int_in_range<T>(v, name);
  }
  static py::object to(T v) { return py::int_(v); }
};

template <class T>
struct OptionValue<T, std::enable_if_t<std::is_floating_point_v<T>>> {
  static T from(py::handle v, const std::string& name) {
    if (PyBool_Check(v.ptr()) || PyUnicode_Check(v.ptr()) || PyBytes_Check(v.ptr())) fail_option(name, "a number", v);
    const double d = PyFloat_AsDouble(v.ptr());
    if (d == -1.0 && PyErr_Occurred()) {
      PyErr_Clear();
      fail_option(name, "a number", v);
    }
    return static_cast<T>(d);
  }
  static py::object to(T v) { return py::float_(std::is_same_v<T, float> ? short_float(v) : v); }
};

template <>
struct OptionValue<bool> {
  static bool from(py::handle v, const std::string& name) {
    const int t = PyObject_IsTrue(v.ptr());  // as bool(value) does
    if (t < 0) {
      PyErr_Clear();
      fail_option(name, "True or False", v);
    }
    return t != 0;
  }
  static py::object to(bool v) { return py::bool_(v); }
};

template <>
struct OptionValue<std::string> {
  static std::string from(py::handle v, const std::string& name) {
    return utf8_of(v, name);
  }
  static py::object to(const std::string& v) { return py::str(v); }
};

template <class T>
struct OptionValue<std::vector<T>> {
  static std::vector<T> from(py::handle v, const std::string& name) {
    if (PyUnicode_Check(v.ptr()) || PyBytes_Check(v.ptr()) || !py::isinstance<py::iterable>(v))
      fail_option(name, "a sequence", v);
    std::vector<T> out;
    for (py::handle x : v) out.push_back(OptionValue<T>::from(x, name));
    return out;
  }
  static py::object to(const std::vector<T>& v) {
    py::tuple t(v.size());
    for (size_t i = 0; i < v.size(); ++i) t[i] = OptionValue<T>::to(v[i]);
    return std::move(t);
  }
};

// An enum spelled by its name table: a str parsed by the core.
template <class E>
E choice_from(py::handle v) {
  if (!PyUnicode_Check(v.ptr())) edgerun_py::throw_status(edgerun::UnknownName(edgerun::NamesOf<E>(), repr_of(v)));
  std::string name;
  try {
    name = utf8_of(v, edgerun::NamesOf<E>().option);
  } catch (...) {
    edgerun_py::throw_status(edgerun::UnknownName(edgerun::NamesOf<E>(), repr_of(v)));
  }
  return check_value(edgerun::ParseOption<E>(name));
}

// Binds the option struct S as a Python class.
template <class S>
class OptionsClass {
 public:
  using Getter = std::function<py::object(const S&)>;
  using Setter = std::function<void(S&, py::handle)>;

  OptionsClass(py::handle scope, const char* name, const char* doc)
      : cls_(scope, name, doc), info_(std::make_shared<Info>()) {
    info_->class_name = name;
  }

  // A field (a member or a nested member reached by `access`) converted by
  // OptionValue<T>.
  template <class T>
  OptionsClass& field(const char* name, T S::*member, const char* doc = "") {
    return field<T>(name, [member](S& s) -> T& { return s.*member; }, doc);
  }
  template <class T, class Access>
  OptionsClass& field(const char* name, Access access, const char* doc = "") {
    const std::string n = name;
    return property(
        name, [access](const S& s) { return OptionValue<T>::to(access(const_cast<S&>(s))); },
        [access, n](S& s, py::handle v) { access(s) = OptionValue<T>::from(v, n); }, doc);
  }

  // An enum field spelled by NamesOf<E>() ("format", "box_coder" ...).
  template <class E>
  OptionsClass& choice(const char* name, E S::*member, const char* doc = "") {
    return choice<E>(name, [member](S& s) -> E& { return s.*member; }, doc);
  }
  template <class E, class Access>
  OptionsClass& choice(const char* name, Access access, const char* doc = "") {
    info_->choices[name] = &edgerun::NamesOf<E>();
    return property(
        name, [access](const S& s) -> py::object { return py::str(edgerun::OptionName(access(const_cast<S&>(s)))); },
        [access](S& s, py::handle v) { access(s) = choice_from<E>(v); }, doc);
  }

  // A field with its own conversion (None <-> a sentinel, tuples, arrays).
  OptionsClass& property(const char* name, Getter get, Setter set, const char* doc = "") {
    info_->order.push_back(name);
    info_->get[name] = get;
    info_->set[name] = set;
    cls_.def_property(
        name, [get](const S& s) { return get(s); }, [set](S& s, py::handle v) { set(s, v); }, doc);
    return *this;
  }

  // Adds __init__(**options), to_dict(), __repr__, choices(option) and returns
  // the class for further methods.
  py::class_<S>& done() {
    auto info = info_;
    cls_.def(py::init([info](const py::kwargs& kw) {
               S s;
               info->apply(s, kw);
               return s;
             }),
             "Options with the given keywords set; the others keep their defaults.")
        .def(
            "to_dict",
            [info](const S& s) {
              py::dict d;
              for (const auto& k : info->order) d[py::str(k)] = info->get.at(k)(s);
              return d;
            },
            "Every option, in declaration order.")
        .def(
            "replace",
            [info](const S& s, const py::kwargs& kw) {
              S out = s;
              info->apply(out, kw);
              return out;
            },
            "A copy with the given keywords set (dataclasses.replace).")
        .def("__repr__",
             [info](const S& s) {
               std::string r = info->class_name + "(";
               for (size_t i = 0; i < info->order.size(); ++i)
                 r += (i ? ", " : "") + info->order[i] + "=" + repr_of(info->get.at(info->order[i])(s));
               return r + ")";
             })
        .def_static(
            "choices",
            [info](const std::string& option) {
              auto it = info->choices.find(option);
              if (it == info->choices.end()) {
                std::string names;
                for (const auto& c : info->choices) names += (names.empty() ? "" : ", ") + c.first;
                fail_input(info->class_name + ".choices: '" + option + "' is not a named option; expected one of " + names);
              }
              py::tuple t(it->second->count);
              for (int i = 0; i < it->second->count; ++i) t[i] = py::str(it->second->names[i]);
              return t;
            },
            py::arg("option"), "The names an option accepts (the core's name table), in enum order.");
    return cls_;
  }

 private:
  struct Info {
    std::string class_name;
    std::vector<std::string> order;
    std::map<std::string, Getter> get;
    std::map<std::string, Setter> set;
    std::map<std::string, const edgerun::NameTable*> choices;
    void apply(S& s, const py::kwargs& kw) const {
      for (auto item : kw) {
        const std::string k = item.first.cast<std::string>();
        auto it = set.find(k);
        if (it == set.end()) {
          std::string names;
          for (const auto& n : order) names += (names.empty() ? "" : ", ") + n;
          fail_input(class_name + ": unknown option '" + k + "'; expected some of " + names);
        }
        it->second(s, item.second);
      }
    }
  };
  py::class_<S> cls_;
  std::shared_ptr<Info> info_;
};

}  // namespace edgerun_py
