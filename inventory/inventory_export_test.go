package inventory

// NewWithZeroHash returns an inventory whose empty-history counter is {0, zeroHash}, as a process
// started at zeroHash would have: tests simulate restarts with it.
func NewWithZeroHash(zeroHash int64) *Inventory { return newInventory(zeroHash) }

// ProcessStart is the hash of the empty history's counter in this process.
var ProcessStart = historyProcessStart
