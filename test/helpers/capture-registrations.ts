import { installRegistrationCapture } from '../../dev/host/registry';

// Jest setupFiles entry: runs in every test file's module registry before the test imports anything, so function
// modules imported by tests register into the local host's registry instead of hitting @azure/functions "test mode".
installRegistrationCapture();
