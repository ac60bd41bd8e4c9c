package segments

import "github.com/druid-sidecar/druid-sidecar/jackson"

// LoadingMode is the pool a load runs on (Druid 33+ SegmentLoadingMode).
type LoadingMode string

// The loading modes. NORMAL loads run on NumLoadingThreads, TURBO loads on NumTurboThreads (Druid's bootstrap pool).
const (
	NormalLoading LoadingMode = "NORMAL"
	TurboLoading  LoadingMode = "TURBO"
)

// ChangeState is a change request's state (Druid's SegmentChangeStatus.State).
type ChangeState string

// The states of a change request.
const (
	ChangeSuccess ChangeState = "SUCCESS"
	ChangeFailed  ChangeState = "FAILED"
	ChangePending ChangeState = "PENDING"
)

// ChangeStatus is the outcome of a change request as Druid's SegmentChangeStatus carries it, the reply to a
// changeRequests POST beside the request it answers.
type ChangeStatus struct {
	State ChangeState
	// FailureCause says why a FAILED request failed, as a sentence; empty otherwise.
	FailureCause string
	// LoadingMode is the mode a load ran in; empty (JSON null) for drops.
	LoadingMode LoadingMode
}

// AppendChangeStatus writes a SegmentChangeStatus as Jackson does: state, failureCause, loadingMode.
func AppendChangeStatus(dst []byte, s ChangeStatus) []byte {
	dst = append(dst, `{"state":"`...)
	dst = append(dst, s.State...)
	dst = append(dst, `","failureCause":`...)
	if s.State == ChangeFailed {
		dst = jackson.AppendJSONString(dst, s.FailureCause)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"loadingMode":`...)
	if s.LoadingMode == "" {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '"')
		dst = append(dst, s.LoadingMode...)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}
