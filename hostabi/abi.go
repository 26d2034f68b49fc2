// Package hostabi is the contract between the tekton-wasm host and its
// plugins: the wire types of the Request a plugin reads on stdin and the
// Response it writes on stdout, the ABI version, the limits the host
// enforces, and the reasons the host reports when a plugin misbehaves.
//
// It uses the standard library only, so the host, the Go guest SDK
// (hostabi/guest) and any tool can share it, and it builds for
// GOOS=wasip1 GOARCH=wasm. README.md in this directory is the normative
// specification; this package is its Go rendering.
package hostabi

import (
	"slices"
	"strings"
	"time"
)

// Version is the ABI version the host speaks. It is sent in every Request
// (Request.ABIVersion). A plugin that echoes Response.ABIVersion must echo
// this value; a different value is rejected as ReasonInvalidResponse.
// Additive, backwards-compatible changes keep the version; anything else
// gets a new one.
const Version = "tekton-wasm/v1"

// RunExport is the function a reactor plugin exports for the host to call
// once per invocation (after _initialize, if the module exports it),
// instead of a command's _start (see README.md, "The module").
const RunExport = "tekton_run"

// ImportModule is the name of the wasm import module under which the host
// offers optional capabilities (host functions, HostFunctions in
// capability.go). A plugin that imports a function this module does not
// define, one of a capability its manifest does not grant, or anything
// from a module other than this and wasi_snapshot_preview1, fails to load
// with a clear error.
const ImportModule = "tekton"

// Limits the host enforces on every invocation. They are part of the ABI:
// a plugin that stays within them is never cut off for size.
const (
	// MaxResponseBytes caps what a plugin may write to stdout. Writing more
	// ends the invocation at once with ReasonOutputTooLarge.
	MaxResponseBytes = 1 << 20

	// MaxLogBytes caps what a plugin may write to stderr (its log). Writing
	// more ends the invocation at once with ReasonLogTooLarge.
	MaxLogBytes = 4 << 20

	// LogTailBytes is how much of the end of the log the host quotes in a
	// failure message (non-zero exit, trap, out of memory).
	LogTailBytes = 1024

	// MaxResults is the most results one Response may carry.
	MaxResults = 64

	// MaxResultValueBytes caps the size of one result value, and
	// MaxResultsBytes the sum of all names and values. Both keep a
	// CustomRun far below the apiserver's object size limit, so a large
	// result ends the run with ReasonResultsTooLarge instead of failing
	// status updates forever.
	MaxResultValueBytes = 16 << 10
	MaxResultsBytes     = 64 << 10

	// MaxExtraFieldsBytes caps Response.ExtraFields (compact JSON).
	MaxExtraFieldsBytes = 64 << 10

	// MaxMessageBytes caps Response.Message; a longer message is truncated
	// (not an error) and ends with "…".
	MaxMessageBytes = 4 << 10

	// MaxReasonBytes caps Response.Reason; a reason must also be a single
	// CamelCase word (see ValidReason).
	MaxReasonBytes = 64

	// MaxJSONDepth caps how deeply arrays and objects nest in a response
	// (extraFields included); deeper is ReasonInvalidResponse. No status
	// needs more, and the apiserver and encoding/json refuse far deeper.
	MaxJSONDepth = 100

	// MinRequeueAfter is the shortest wait a Running response may ask for;
	// shorter (or absent) values are raised to it, so a plugin cannot spin.
	MinRequeueAfter = 100 * time.Millisecond
)

// Reasons the host sets on a Failed attempt when the plugin did not produce
// a valid Response itself. Each names one way a plugin can misbehave, so a
// user reading the CustomRun status can tell them apart.
const (
	// ReasonExited: the plugin exited with a non-zero code (a Go panic
	// exits 2). The message holds the code and the tail of the log.
	ReasonExited = "PluginExited"
	// ReasonTrapped: the module trapped (unreachable, out-of-bounds access,
	// stack overflow, ...). The message holds the wasm error.
	ReasonTrapped = "PluginTrapped"
	// ReasonOutOfMemory: the plugin needed more linear memory than its
	// limit allows.
	ReasonOutOfMemory = "PluginOutOfMemory"
	// ReasonOutputTooLarge: the plugin wrote more than MaxResponseBytes to
	// stdout.
	ReasonOutputTooLarge = "PluginOutputTooLarge"
	// ReasonLogTooLarge: the plugin wrote more than MaxLogBytes to stderr.
	ReasonLogTooLarge = "PluginLogTooLarge"
	// ReasonInvalidResponse: stdout was empty, not JSON, or not a valid
	// Response (unknown status, bad or reserved reason, wrong ABI
	// version, a key twice or misspelt, a number out of range, ...).
	ReasonInvalidResponse = "PluginInvalidResponse"
	// ReasonResultsTooLarge: the Response broke a result or extraFields
	// limit (count, size, or an invalid result name).
	ReasonResultsTooLarge = "PluginResultsTooLarge"
	// ReasonLoadFailed: the module could not be instantiated (it imports
	// something the host does not provide, or its start function failed).
	ReasonLoadFailed = "PluginLoadFailed"
)

// Reasons reserved for the host: a plugin that answers with one would pose
// as the host (claiming, say, that the run was cancelled or that the host
// judged the plugin), so its response is ReasonInvalidResponse.
// reservedPrefixes cover the reasons above, Tekton's own
// (CustomRunCancelled, CustomRunTimedOut, ...), the state machine's
// CustomRunValidationFailed, the controller's PluginUnavailable and its
// CustomTask* and Workspace* reasons, and whatever the host adds under
// them later; reservedReasons are the host's reasons outside them: the
// state machine's Started and Retrying and the controller's
// StatusUpdateRejected.
var (
	reservedPrefixes = []string{"CustomRun", "CustomTask", "Plugin", "Workspace"}
	reservedReasons  = []string{"Started", "Retrying", "StatusUpdateRejected"}
)

// Reserved reports whether reason is reserved for the host (see
// README.md, "Reserved reasons").
func Reserved(reason string) bool {
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(reason, p) {
			return true
		}
	}
	return slices.Contains(reservedReasons, reason)
}
