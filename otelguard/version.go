package otelguard

// ScopeName is the instrumentation scope name of every tracer and meter that
// otelguard obtains from a provider. It is this package's import path.
const ScopeName = "github.com/otelguard/otelguard-go/otelguard"

// version is the version of otelguard. It is reported as the
// instrumentation scope version.
const version = "0.1.0"
