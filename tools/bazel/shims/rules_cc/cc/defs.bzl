"""SHIM: a stand-in for @rules_cc//cc:defs.bzl.

Why it exists: Bazel 4's embedded @bazel_tools loads `@rules_cc//cc:defs.bzl`,
and project code should load the C rules from there too, but the real rules_cc
cannot be downloaded here (GitHub is unreachable) and Debian's bazel-rules-cc
0.0.4 is too new for Bazel 4 (`use_cpp_toolchain` is missing). In Bazel 4
the C/C++ rules are native anyway, so each macro simply forwards to
`native.<rule>`. Delete this shim when moving to a Bazel whose rules_cc can
be fetched.
"""

def cc_binary(**attrs):
    native.cc_binary(**attrs)

def cc_library(**attrs):
    native.cc_library(**attrs)

def cc_test(**attrs):
    native.cc_test(**attrs)

def cc_import(**attrs):
    native.cc_import(**attrs)

def cc_proto_library(**attrs):
    native.cc_proto_library(**attrs)

def cc_toolchain(**attrs):
    native.cc_toolchain(**attrs)

def cc_toolchain_suite(**attrs):
    native.cc_toolchain_suite(**attrs)

def fdo_profile(**attrs):
    native.fdo_profile(**attrs)

def fdo_prefetch_hints(**attrs):
    native.fdo_prefetch_hints(**attrs)

def objc_library(**attrs):
    native.objc_library(**attrs)

def objc_import(**attrs):
    native.objc_import(**attrs)
