package password

// What the tests in password_test reach inside for.

// Marker starts every hash Hash makes.
const Marker = marker

// PreHash is what bcrypt is given for a password.
var PreHash = preHash
