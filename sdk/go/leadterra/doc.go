// Declare the run state of Leadterra outbound-email campaigns as code.
package leadterra
