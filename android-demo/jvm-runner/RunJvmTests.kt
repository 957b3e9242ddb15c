// A tiny JUnit 4 runner for the JVM tests: prints each failure and a final "N passed, N failed" line that CI reads.
// Not part of the app: compiled only by run-jvm-tests.sh.
import org.junit.runner.Description
import org.junit.runner.JUnitCore
import org.junit.runner.Request
import org.junit.runner.notification.Failure
import org.junit.runner.notification.RunListener
import kotlin.system.exitProcess

class CountingListener : RunListener() {
    var started = 0
    val failed = LinkedHashSet<Description>()
    var skipped = 0

    override fun testStarted(description: Description) { started++ }
    override fun testFailure(failure: Failure) {
        failed.add(failure.description)
        println("FAIL ${failure.description.displayName}: ${failure.message ?: failure.exception}")
    }
    override fun testAssumptionFailure(failure: Failure) {
        skipped++
        println("SKIP ${failure.description.displayName}: ${failure.message}")
    }
}

fun main(args: Array<String>) {
    val core = JUnitCore()
    val listener = CountingListener()
    core.addListener(listener)
    for (name in args) {
        val result = core.run(Request.aClass(Class.forName(name)))
        println("$name: ${result.runCount} run, ${result.failureCount} failed")
    }
    val failed = listener.failed.size
    val passed = listener.started - failed - listener.skipped
    println(if (listener.skipped > 0) "$passed passed, $failed failed, ${listener.skipped} skipped" else "$passed passed, $failed failed")
    exitProcess(if (failed == 0 && listener.started > 0) 0 else 1)
}
