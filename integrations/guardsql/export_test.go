package guardsql

// CoreMissedClose tells the tests whether missedClose is the core's
// otelguard.MissedClose (see missed.go).
const CoreMissedClose = coreMissedClose
