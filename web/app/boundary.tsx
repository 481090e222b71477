/** Containment: what a part of the page throws while rendering shows in that part, not as a blank page. */
import { Component, type ComponentChildren } from "preact";

interface BoundaryProps {
	/** Shown instead of the children once they threw. */
	fallback: (error: Error) => ComponentChildren;
	/** The children are tried again when this changes (new data, another page). */
	resetKey?: unknown;
	children?: ComponentChildren;
}

/**
 * An error boundary: catches what its children throw while rendering or in their effects and shows
 * `fallback(error)` in their place (the error also goes to the console).
 */
export class Boundary extends Component<BoundaryProps, { error: Error | null }> {
	override state = { error: null as Error | null };

	static override getDerivedStateFromError(error: unknown) {
		return { error: error instanceof Error ? error : new Error(String(error)) };
	}

	override componentDidCatch(error: unknown) {
		console.error(error);
	}

	override componentDidUpdate(previous: BoundaryProps) {
		if (this.state.error && previous.resetKey !== this.props.resetKey) this.setState({ error: null });
	}

	override render() {
		return this.state.error ? this.props.fallback(this.state.error) : this.props.children;
	}
}
