import { render } from 'solid-js/web'
import { App } from './app.tsx'
import { Gate } from './access/gate.tsx'
import './styles.css'

// The gate decides between the dashboard and a pairing / sign-in screen.
render(() => <Gate>{() => <App />}</Gate>, document.getElementById('root')!)
