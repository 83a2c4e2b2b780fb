// Package wire is the message format between the bridge and consumer apps, written once:
// the bridge's provisioning writes it and package consumer reads it.
//
//   - Event and User: the JSON body of a webhook push (and the stored payload of every
//     provisioning event), with the event types user.created, user.updated and
//     user.deactivated.
//   - Standard Webhooks signing: Sign and Verify (webhook-id, webhook-timestamp,
//     webhook-signature "v1,<base64 HMAC-SHA256>"), and ParseSecret for "whsec_<base64>".
//   - SCIM 2.0 (RFC 7643/7644): SCIMUser, the User resource pushed to an app, with the
//     membership extension; SCIMUserOf and SCIMUser.User map between it and User.
//
// It imports no project package.
package wire
