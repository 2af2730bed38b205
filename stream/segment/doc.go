// Package segment decodes Segment Spec JSON messages (track, identify, page,
// screen, alias) into Events in one allocation-free pass over the input; a
// message is either fully decoded from well-formed JSON or refused with a
// DecodeError whose Reason is a stable machine-readable constant.
package segment
