package hostabi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Status is the outcome a plugin reports for one call.
type Status string

const (
	// StatusSucceeded ends the run Succeeded=True with the results.
	StatusSucceeded Status = "Succeeded"
	// StatusFailed ends the attempt; the host retries while retries are
	// left, then ends the run Succeeded=False.
	StatusFailed Status = "Failed"
	// StatusRunning keeps the run Succeeded=Unknown; the host calls the
	// plugin again after RequeueAfter with ExtraFields handed back. No
	// sandbox is held in between.
	StatusRunning Status = "Running"
)

// Response is the one JSON document a plugin writes to stdout.
type Response struct {
	// ABIVersion, when set, must equal Version.
	ABIVersion string `json:"abiVersion,omitempty"`

	Status Status `json:"status"`
	// Reason is a CamelCase word for the condition's reason; the host
	// supplies one ("Succeeded", "Failed", "Running") when empty.
	Reason string `json:"reason,omitempty"`
	// Message is a human-readable sentence for the condition's message.
	Message string `json:"message,omitempty"`
	// Results become status.results (on Succeeded; ignored otherwise).
	Results []Result `json:"results,omitempty"`
	// ExtraFields become status.extraFields and are handed back in the next
	// Request of a Running attempt. Any JSON value.
	ExtraFields json.RawMessage `json:"extraFields,omitempty"`
	// RequeueAfter is how long to wait before calling again, for Running
	// only. Raised to MinRequeueAfter.
	RequeueAfter Duration `json:"requeueAfter,omitzero"`
}

// Result is one named string result.
type Result struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Duration is a time.Duration written as a Go duration string ("1m30s").
type Duration struct{ time.Duration }

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.Duration.String()) }

// UnmarshalJSON reads a Go duration string such as "500ms" or "1m30s".
func (d *Duration) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("requeueAfter must be a duration string such as \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("requeueAfter: %w", err)
	}
	d.Duration = v
	return nil
}

// ValidReason reports whether s may be used as a condition reason: one
// CamelCase word of at most MaxReasonBytes (^[A-Z][A-Za-z0-9]*$), as
// Kubernetes expects.
func ValidReason(s string) bool {
	if s == "" || len(s) > MaxReasonBytes || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !alnum(s[i]) {
			return false
		}
	}
	return true
}

// ValidResultName reports whether s may name a result, as Tekton requires:
// ^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$.
func ValidResultName(s string) bool {
	if s == "" || !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !alnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// The guest SDK shares this package: hand-written checks instead of
// regexp keep a Go plugin several hundred KB smaller.
func alnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// LimitError is a Response that breaks a size limit of the ABI. The host
// reports it as ReasonResultsTooLarge.
type LimitError struct{ msg string }

func (e *LimitError) Error() string { return e.msg }

// ParseResponse decodes and validates a plugin's stdout. A document that is
// not a valid Response is an error (ReasonInvalidResponse): not one JSON
// value, a key that appears twice in an object or does not name a field
// exactly (case included), a number that is not a finite 64-bit float,
// nesting deeper than MaxJSONDepth, or what Validate refuses. One that
// breaks a size limit is a *LimitError (ReasonResultsTooLarge). An
// over-long message is truncated, not refused.
func ParseResponse(stdout []byte) (*Response, error) {
	stdout = bytes.TrimSpace(stdout)
	if len(stdout) == 0 {
		return nil, fmt.Errorf("the plugin wrote no response to stdout")
	}
	err := checkJSON(stdout, responseShape(), 0)
	if errors.Is(err, errTrailing) {
		return nil, fmt.Errorf("stdout holds more than one JSON document; write the response only once")
	}
	var r Response
	if err == nil {
		err = json.Unmarshal(stdout, &r)
	}
	if err != nil {
		return nil, fmt.Errorf("stdout is not a JSON response: %v (starts with %q)", err, head(stdout, 64))
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Validate checks a Response against the ABI and truncates an over-long
// message. See ParseResponse for the kinds of error; a reason reserved for
// the host (Reserved) is one.
func (r *Response) Validate() error {
	if r.ABIVersion != "" && r.ABIVersion != Version {
		return fmt.Errorf("response abiVersion %q is not %q", r.ABIVersion, Version)
	}
	switch r.Status {
	case StatusSucceeded, StatusFailed, StatusRunning:
	default:
		return fmt.Errorf("response status %q is not one of Succeeded, Failed, Running", r.Status)
	}
	if r.Reason != "" && !ValidReason(r.Reason) {
		return fmt.Errorf("response reason %q is not a CamelCase word of at most %d bytes", head([]byte(r.Reason), 80), MaxReasonBytes)
	}
	if Reserved(r.Reason) {
		return fmt.Errorf("response reason %q is reserved for the host, which sets it itself; choose a reason of the plugin's own", r.Reason)
	}
	if r.RequeueAfter.Duration < 0 {
		return fmt.Errorf("response requeueAfter %s is negative", r.RequeueAfter.Duration)
	}
	if len(r.Message) > MaxMessageBytes {
		r.Message = truncate(r.Message, MaxMessageBytes)
	}
	if len(r.ExtraFields) > 0 {
		var compact bytes.Buffer
		if err := json.Compact(&compact, r.ExtraFields); err != nil {
			return fmt.Errorf("response extraFields is not JSON: %v", err)
		}
		// Nested in the response, one level down.
		if err := checkJSON(r.ExtraFields, nil, 1); err != nil {
			return fmt.Errorf("response extraFields: %v", err)
		}
		if compact.Len() > MaxExtraFieldsBytes {
			return &LimitError{fmt.Sprintf("extraFields are %d bytes; the limit is %d", compact.Len(), MaxExtraFieldsBytes)}
		}
		r.ExtraFields = compact.Bytes()
	}
	if len(r.Results) > MaxResults {
		return &LimitError{fmt.Sprintf("the plugin returned %d results; the limit is %d", len(r.Results), MaxResults)}
	}
	total := 0
	seen := make(map[string]bool, len(r.Results))
	for _, res := range r.Results {
		if !ValidResultName(res.Name) {
			return &LimitError{fmt.Sprintf("result name %q is invalid: use letters, digits, '-', '_' and '.', starting and ending with a letter or digit", head([]byte(res.Name), 80))}
		}
		if seen[res.Name] {
			return &LimitError{fmt.Sprintf("result %q is returned twice", res.Name)}
		}
		seen[res.Name] = true
		if len(res.Value) > MaxResultValueBytes {
			return &LimitError{fmt.Sprintf("result %q is %d bytes; the limit is %d", res.Name, len(res.Value), MaxResultValueBytes)}
		}
		total += len(res.Name) + len(res.Value)
	}
	if total > MaxResultsBytes {
		return &LimitError{fmt.Sprintf("results add up to %d bytes; the limit is %d", total, MaxResultsBytes)}
	}
	return nil
}

// truncate cuts s to at most n bytes at a rune boundary and marks the cut.
func truncate(s string, n int) string {
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && cut < len(s) && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

func head(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
