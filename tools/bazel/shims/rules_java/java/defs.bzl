"""SHIM: a stand-in for @rules_java//java:defs.bzl.

Why it exists: Bazel 4's embedded @bazel_tools loads
`@rules_java//java:defs.bzl` while analysing its own BUILD files (even in a
project without Java), and the real rules_java cannot be downloaded here
(GitHub is unreachable). In Bazel 4 the Java rules are native, so each macro
forwards to `native.<rule>`. This project has no Java code; the shim only has
to make @bazel_tools load.
"""

def java_binary(**attrs):
    native.java_binary(**attrs)

def java_import(**attrs):
    native.java_import(**attrs)

def java_library(**attrs):
    native.java_library(**attrs)

def java_test(**attrs):
    native.java_test(**attrs)

def java_plugin(**attrs):
    native.java_plugin(**attrs)

def java_proto_library(**attrs):
    native.java_proto_library(**attrs)

def java_lite_proto_library(**attrs):
    native.java_lite_proto_library(**attrs)

def java_runtime(**attrs):
    native.java_runtime(**attrs)

def java_toolchain(**attrs):
    native.java_toolchain(**attrs)

def java_package_configuration(**attrs):
    native.java_package_configuration(**attrs)
