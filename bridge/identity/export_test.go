package identity

// SealedSecretPrefix marks a sealed secret in the store (for tests).
var SealedSecretPrefix = sealedSecretPrefix
