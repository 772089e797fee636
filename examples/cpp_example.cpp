// libredlock from C++ (include/redlock/redlock.hpp): scoped locking, and handing a held lock to a worker thread.
// Usage: cpp_example REDIS_URL
#include <redlock/redlock.hpp>

#include <iostream>
#include <mutex>
#include <thread>

using namespace std::chrono_literals;

int main(int argc, char **argv) {
    if (argc != 2) {
        std::cerr << "usage: " << argv[0] << " redis://host:port/db\n";
        return 2;
    }
    try {
        redlock::Client client(argv[1]);
        client.ping();

        // Scoped: acquired here (waiting up to 5 s), released at the end of the block.
        redlock::Lock nightly(client, "example:nightly", redlock::LockOptions{}.timeout(30s).blocking_timeout(5s));
        {
            std::lock_guard<redlock::Lock> guard(nightly);
            std::cout << "holding example:nightly with token " << nightly.token().value() << "\n";
        }

        // Acquire here, release on a worker thread: that needs shared token state (redis-py thread_local=False).
        redlock::Lock job(client, "example:job", redlock::LockOptions{}.timeout(30s).thread_local_tokens(false));
        if (!job.acquire()) return 1;
        std::thread worker([&job] {
            job.extend(10s);
            job.release();
            std::cout << "worker thread released example:job\n";
        });
        worker.join();
        std::cout << "still locked: " << std::boolalpha << job.locked() << "\n";
        return 0;
    } catch (const redlock::Error &e) {
        std::cerr << "libredlock error " << e.code() << ": " << e.what() << "\n";
        return 1;
    }
}
