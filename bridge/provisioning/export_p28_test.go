package provisioning

// MaxPollRetries is how many members the poller's retry list holds, for the tests.
const MaxPollRetries = maxPollRetries
