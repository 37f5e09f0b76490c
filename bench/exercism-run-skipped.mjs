// Exercism's JavaScript specs skip every test but the first for students; a benchmark runs them all.
globalThis.xtest = globalThis.test;
globalThis.xit = globalThis.it;
globalThis.xdescribe = globalThis.describe;
